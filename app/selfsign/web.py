"""Self-signing pages: the signing form, the confirmation page (GET shows a button, POST
confirms) and the signer's private page. Server-rendered, no JavaScript, in the UI locales.

Tokens travel only in the path; the access log keeps paths, so app/security/logs.py must
shorten `/sign-requests/...` paths (see `redact_path`).
"""

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Header, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from app.db import SessionDep
from app.errors import AppError
from app.i18n.catalogs import SUPPORTED, translations
from app.i18n.negotiation import UiLocale, negotiate
from app.i18n.sentences import language_name, ui_gettext
from app.letters import service as letter_service
from app.letters import texts
from app.letters.models import Letter, LetterStatus
from app.pages import rendering
from app.security.limits import client_key
from app.selfsign import mail, service
from app.selfsign.dependencies import PublicLetter, SmallBody
from app.selfsign.models import SelfSignature, SelfSignState
from app.selfsign.schemas import ContactUpdate, SignRequestCreate

router = APIRouter(include_in_schema=False)
_HERE = FilePath(__file__).resolve().parent
_templates = Environment(
    loader=ChoiceLoader(
        [FileSystemLoader(_HERE / "templates"), FileSystemLoader(rendering._HERE / "templates")]
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
LocaleQuery = Annotated[str | None, Query(max_length=35)]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]
Text = Annotated[str, Form(max_length=2000)]
# Form fields, and where the API's validation errors land among them.
_FIELDS = {
    ("organisation", "name"): "name",
    ("organisation", "other_names"): "other_names",
    ("organisation", "country"): "country",
    ("organisation", "website"): "website",
    ("contact", "name"): "contact_name",
    ("contact", "email"): "contact_email",
    ("consent",): "consent",
}


def _messages(ui: UiLocale) -> dict[str, str]:
    def _(message: str) -> str:
        return ui_gettext(ui, message)

    return {
        "name": _("Enter the organisation's name."),
        "other_names": _("Check the other names: one per line, each a name."),
        "country": _("Enter a two-letter country code, such as FR, or leave it empty."),
        "website": _("Enter a website address such as https://example.org, or leave it empty."),
        "contact_name": _("Enter the name of the person signing."),
        "contact_email": _("Enter an email address such as name@example.org."),
        "consent": _("Tick this box to agree to the text of the letter."),
    }


def render(template: str, ui: UiLocale, **context: Any) -> str:
    languages = [
        {"tag": tag, "name": language_name(tag, in_locale=tag)} for tag in SUPPORTED.values()
    ]
    return _templates.get_template(template).render(
        ui=ui, _=translations(ui.name).gettext, languages=languages, **context
    )


def private_page(content: str, *, status_code: int = 200) -> HTMLResponse:
    # Private pages (a token in the path, contact details): never cached, never referred.
    return HTMLResponse(
        content,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Vary": "*"},
    )


def _form_context(
    session: SessionDep, *, letter: Letter, ui: UiLocale, values: dict[str, Any]
) -> dict[str, Any]:
    text = texts.localised_text(session, letter=letter, requested=ui.tag)
    return {
        "letter": letter,
        "text": text,
        "values": values,
        "open": letter.status == LetterStatus.open,
        "form_lang": text.lang,
        "versions_url": f"/letters/{letter.slug}/versions?locale={ui.tag}"
        if letter.text_version > 1
        else "",
    }


def _locale(locale: str | None, accept_language: str | None) -> UiLocale:
    ui, _ = negotiate(locale=locale, accept_language=accept_language)
    return ui


@router.get("/letters/{slug}/sign", response_class=HTMLResponse)
def sign_form(
    letter: PublicLetter,
    session: SessionDep,
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """The public signing form of a letter whose coordinators opened it."""
    ui = _locale(locale, accept_language)
    if not letter.self_signing:
        service.ensure_accepting(letter=letter)
    context = _form_context(session, letter=letter, ui=ui, values={})
    return private_page(render("sign.html", ui, errors={}, messages=_messages(ui), **context))


def _errors(exc: ValidationError) -> set[str]:
    fields = set()
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        for prefix, field in _FIELDS.items():
            if loc[: len(prefix)] == prefix:
                fields.add(field)
                break
        else:
            fields.add("name")
    return fields


@router.post("/letters/{slug}/sign", response_class=HTMLResponse, dependencies=[SmallBody])
def submit_form(
    letter: PublicLetter,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
    name: Text = "",
    other_names: Text = "",
    country: Annotated[str, Form(max_length=10)] = "",
    website: Annotated[str, Form(max_length=600)] = "",
    contact_name: Annotated[str, Form(max_length=400)] = "",
    contact_email: Annotated[str, Form(max_length=400)] = "",
    anonymous: Annotated[str, Form(max_length=10)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    lang: Annotated[str, Form(max_length=35)] = "",
    text_version: Annotated[int | None, Form(ge=1, le=1_000_000)] = None,
    homepage: Annotated[str, Form(max_length=2000)] = "",
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """The form's answer: the same page whatever happened, or the form with its errors."""
    ui = _locale(locale, accept_language)
    values = {
        "name": name,
        "other_names": other_names,
        "country": country,
        "website": website,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "anonymous": bool(anonymous),
        "consent": bool(consent),
    }
    service.ensure_accepting(letter=letter)
    if homepage:
        # The honeypot: a field people never see. A bot gets the usual answer, and nothing
        # is recorded or sent.
        return private_page(render("sent.html", ui, letter=letter))
    try:
        data = SignRequestCreate.model_validate(
            {
                "organisation": {
                    "name": name,
                    "other_names": [n for n in other_names.splitlines() if n.strip()],
                    "country": country.strip().upper() or None,
                    "website": website.strip() or None,
                },
                "contact": {"name": contact_name, "email": contact_email},
                "anonymous": bool(anonymous),
                "consent": bool(consent),
                "lang": lang or None,
                "text_version": text_version,
            }
        )
    except ValidationError as exc:
        context = _form_context(session, letter=letter, ui=ui, values=values)
        content = render("sign.html", ui, errors=_errors(exc), messages=_messages(ui), **context)
        return private_page(content, status_code=422)
    try:
        outgoing = service.request(
            session, letter=letter, data=data, client=client_key(request.scope)
        )
    except AppError as exc:
        if exc.field not in ("text_version", "lang"):
            raise
        # The text changed (or its translation went) while the signer read it: show the
        # current one, with what they typed, to consent to again.
        context = _form_context(session, letter=letter, ui=ui, values=values | {"consent": False})
        notice = ui_gettext(
            ui, "The letter's text has changed since you read it: please read it again."
        )
        content = render(
            "sign.html", ui, errors={}, messages=_messages(ui), notice=notice, **context
        )
        return private_page(content, status_code=409)
    if outgoing is not None:
        background.add_task(mail.send, outgoing)
    return private_page(render("sent.html", ui, letter=letter))


@router.get("/letters/{slug}/versions", response_class=HTMLResponse)
def versions_page(
    letter: PublicLetter,
    session: SessionDep,
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """The versions of a letter's original text, newest first, with why each changed."""
    ui = _locale(locale, accept_language)
    versions = list(reversed(letter_service.versions_of(session, letter=letter)))
    content = render("versions.html", ui, letter=letter, versions=versions)
    return rendering.html(content)


@router.get("/sign-requests/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    token: str, locale: LocaleQuery = None, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    """A button that confirms by POST: a mail scanner fetching the link confirms nothing
    (this page does not even look the token up)."""
    ui = _locale(locale, accept_language)
    return private_page(render("confirm.html", ui, action=f"/sign-requests/confirm/{token}"))


def N_(message: str) -> str:
    """Marks a string for extraction (`make messages`); translated where it is shown."""
    return message


_STATE_TEXTS = {
    SelfSignState.pending_confirmation: N_("Not confirmed yet: use the link in the email."),
    SelfSignState.domain_verified: N_(
        "Confirmed. Your email address belongs to the organisation's website, so the "
        "signature counts."
    ),
    SelfSignState.unverified: N_(
        "Confirmed. The letter's coordinators will check that you may sign for the "
        "organisation; until then the signature is not counted."
    ),
    SelfSignState.verified: N_("Verified by the letter's coordinators: the signature counts."),
    SelfSignState.rejected: N_("Not accepted by the letter's coordinators."),
    SelfSignState.withdrawn: N_("Withdrawn: the signature is no longer shown or counted."),
}
_ERROR_TEXTS = {
    "withdrawal_closed": N_(
        "The letter is closed and its coordinators do not allow withdrawals any more."
    ),
    "other": N_("This change is not possible."),
}


def _state_text(ui: UiLocale, row: SelfSignature) -> str:
    return ui_gettext(ui, _STATE_TEXTS[SelfSignState(row.state)])


def _error_text(ui: UiLocale, exc: AppError) -> str:
    message = _ERROR_TEXTS.get(exc.error) or _ERROR_TEXTS["other"]
    return ui_gettext(ui, message)


def _gone(ui: UiLocale) -> HTMLResponse:
    # One page for every token that does not work (unknown, used, expired, purged).
    return private_page(render("gone.html", ui), status_code=404)


@router.post("/sign-requests/confirm/{token}", response_class=HTMLResponse)
def confirm(
    token: str,
    session: SessionDep,
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """Confirm the signature (the emailed link works once)."""
    ui = _locale(locale, accept_language)
    row = service.confirm(session, token=token)
    if row is None:
        return _gone(ui)
    return private_page(render("confirmed.html", ui, state=_state_text(ui, row)))


def _manage_page(
    ui: UiLocale,
    session: SessionDep,
    *,
    row: SelfSignature,
    token: str,
    notice: str = "",
    errors: set[str] | None = None,
) -> str:
    letter = service.letter_of(session, row)
    can_withdraw = row.state != SelfSignState.withdrawn and service.may_withdraw(
        letter=letter, row=row
    )
    return render(
        "manage.html",
        ui,
        letter=letter,
        row=row,
        state=_state_text(ui, row),
        base=f"/sign-requests/manage/{token}",
        can_withdraw=can_withdraw,
        notice=notice,
        errors=errors or set(),
        messages=_messages(ui),
    )


@router.get("/sign-requests/manage/{token}", response_class=HTMLResponse)
def manage_page(
    token: str,
    session: SessionDep,
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """The signer's private page: state, contact details, withdraw."""
    ui = _locale(locale, accept_language)
    row = service.managed_by_token(session, token=token)
    if row is None:
        return _gone(ui)
    return private_page(_manage_page(ui, session, row=row, token=token))


@router.post("/sign-requests/manage/{token}/withdraw", response_class=HTMLResponse)
def withdraw(
    token: str,
    session: SessionDep,
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """Withdraw the signature: gone from public lists and counts at once."""
    ui = _locale(locale, accept_language)
    row = service.managed_by_token(session, token=token)
    if row is None:
        return _gone(ui)
    try:
        service.withdraw(session, row=row)
    except AppError as exc:
        return private_page(
            _manage_page(ui, session, row=row, token=token, notice=_error_text(ui, exc)),
            status_code=exc.status_code,
        )
    notice = ui_gettext(ui, "The signature is withdrawn.")
    return private_page(_manage_page(ui, session, row=row, token=token, notice=notice))


@router.post(
    "/sign-requests/manage/{token}/contact", response_class=HTMLResponse, dependencies=[SmallBody]
)
def update_contact(
    token: str,
    session: SessionDep,
    contact_name: Annotated[str, Form(max_length=400)] = "",
    contact_email: Annotated[str, Form(max_length=400)] = "",
    locale: LocaleQuery = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """Correct the contact person's name or email."""
    ui = _locale(locale, accept_language)
    row = service.managed_by_token(session, token=token)
    if row is None:
        return _gone(ui)
    try:
        data = ContactUpdate(name=contact_name or None, email=contact_email or None)
        service.update_contact(session, row=row, data=data)
    except ValidationError as exc:
        fields = {"contact_" + str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        content = _manage_page(ui, session, row=row, token=token, errors=fields)
        return private_page(content, status_code=422)
    except AppError as exc:
        return private_page(
            _manage_page(ui, session, row=row, token=token, notice=_error_text(ui, exc)),
            status_code=exc.status_code,
        )
    notice = ui_gettext(ui, "Your contact details are saved.")
    return private_page(_manage_page(ui, session, row=row, token=token, notice=notice))
