"""Use cases over a SQLAlchemy ``Session``, free of Flask: they read and write through the models, apply
the domain's rules, call the payment core, and flush. The request (or the job) commits once.
"""
