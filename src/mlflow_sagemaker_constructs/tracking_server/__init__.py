"""The MLflow tracking server: the construct, its database, artifact store, authentication and image.

``server/`` is the image's build context and the code that runs inside it.
"""
