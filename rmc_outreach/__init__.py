"""rmc-outreach: automated outbound patient contact for NHS referral management centres.

The domain core. It imports neither Flask nor Celery: ``admin_ui`` and ``workers`` adapt it.
"""
