"""SageMaker Studio and training jobs wired to the tracking server, with the JupyterLab lifecycle script."""
