"""Path slug → Letter, with the visibility rules applied."""

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import CoordinatorUser, OptionalUser
from app.db import SessionDep
from app.letters import service
from app.letters.models import Letter

SlugPath = Annotated[str, Path(max_length=200, description="Letter slug")]


def visible_letter(slug: SlugPath, session: SessionDep, principal: OptionalUser) -> Letter:
    return service.get_visible(session, slug=slug, principal=principal)


def managed_letter(slug: SlugPath, session: SessionDep, principal: CoordinatorUser) -> Letter:
    return service.get_managed(session, slug=slug, principal=principal)


VisibleLetter = Annotated[Letter, Depends(visible_letter)]
ManagedLetter = Annotated[Letter, Depends(managed_letter)]
