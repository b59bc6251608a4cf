"""SMS alerts: one text to many citizens, sent exactly once each, replies threaded back.

See docs/sms.md ("Alerts"). Models: inbox/models/alerts.py.
"""
