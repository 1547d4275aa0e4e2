"""The coordinators' pages (admin floor: the admin page's sessions)."""
