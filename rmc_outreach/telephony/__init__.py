"""Telephony: the provider interface, the Twilio adapter, TwiML builders, error table."""
