"""Twilio: REST client wrapper, TwiML, signature checks, per-call tokens, the media serializer."""
