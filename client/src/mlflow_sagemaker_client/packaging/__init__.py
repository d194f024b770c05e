"""``mlflow-sagemaker-package``: turn a model of an MLflow tracking server into SageMaker model data.

SageMaker hosting downloads one gzip-compressed tar archive (``ModelDataUrl``) and extracts it into
``/opt/ml/model``. MLflow's pyfunc scoring server (and the bundled serving image of the constructs'
``MlflowModelEndpoint``) expects the MLflow model directory there, with ``MLmodel`` at its root.
The command, one module per step:

1. :mod:`.tracking` resolves the tracking server (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``;
   none is an error, not MLflow's local default) and bounds MLflow's timeouts and retries;
   :mod:`.model_uri` checks the model URI and looks the model up on the server;
2. :mod:`.output_file` and :mod:`.s3` check that the destinations can be written, before anything
   is downloaded;
3. :mod:`.model_files` downloads the model with MLflow's client (authentication plugins such as
   ``aws-sigv4`` apply as usual), with a progress bar (:mod:`.progress`), and checks it is an MLflow
   model with the ``python_function`` flavour; :mod:`.serving_image` warns (on stderr) about
   requirements the bundled serving image does not satisfy;
4. :mod:`.archive` writes ``model.tar.gz`` reproducibly (sorted entries, zero timestamps and owners,
   normalised modes), so the same model always gives the same bytes;
5. :mod:`.s3` uploads it under a content-addressed key and the command prints the ``s3://`` URI, the
   only line on stdout, to pass as ``model_data_url``. A new model therefore always gets a new URI,
   which is what makes CloudFormation roll the endpoint to it.

:mod:`.cli` is the command line; :mod:`.errors` lists the exit statuses.
"""
