"""Signed webhooks (issue 16.4): subscriptions per letter, an outbox written in the
transaction of the change, and a delivery worker with retries."""
