"""Organisations signing for themselves: the public form, email confirmation, the
coordinator's verification queue and the signer's private link (issue 15, decision 0095)."""
