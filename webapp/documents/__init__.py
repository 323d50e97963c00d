"""Documents the app issues (the payment certificate's PDF and its page images): drawing only, no
database and no Flask. Services hand it a ``domain.certificates.CertificateDoc``.
"""
