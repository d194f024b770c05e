"""Which image serves the model: the bundled pyfunc serving image, or one of yours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlflow_sagemaker_constructs.serving.image import SERVING_IMAGE_DIRECTORY


@dataclass(frozen=True)
class BoundServingImage:
    """An image ready for the model: its URI and how to let the execution role pull it."""

    image_uri: str
    grant_pull: Callable[[iam.IGrantable], object]
    asset: ecr_assets.DockerImageAsset | None
    #: True when the image is linux/amd64 only (the bundled one).
    amd64_only: bool


class ServingImage:
    """The serving image of ``MlflowModelEndpoint(image=...)``, matching ``ServerImage``:

    - :meth:`bundled_asset` (default): MLflow's pyfunc scoring server pinned to the library's MLflow, with
      scikit-learn and its usual dependencies, built as a ``linux/amd64`` CDK Docker image asset;
    - :meth:`from_asset`: a Docker image asset of yours that implements SageMaker's hosting contract;
    - :meth:`from_repository`: an image in ECR, by tag or digest.
    """

    def __init__(self, kind: str, binder: Callable[[Construct], BoundServingImage]) -> None:
        self.kind = kind
        self._binder = binder

    def bind(self, scope: Construct) -> BoundServingImage:
        """Create what the image needs under ``scope``."""
        return self._binder(scope)

    @staticmethod
    def bundled_asset() -> ServingImage:
        """The bundled pyfunc serving image (``serving/image``), built for ``linux/amd64``."""

        def bind(scope: Construct) -> BoundServingImage:
            asset = ecr_assets.DockerImageAsset(
                scope, "ServingImage", directory=str(SERVING_IMAGE_DIRECTORY), platform=ecr_assets.Platform.LINUX_AMD64
            )
            return BoundServingImage(asset.image_uri, asset.repository.grant_pull, asset, amd64_only=True)

        return ServingImage("bundled-asset", bind)

    @staticmethod
    def from_asset(asset: ecr_assets.DockerImageAsset) -> ServingImage:
        """A Docker image asset of yours.

        :param asset: the image asset; it must implement SageMaker's hosting contract (``serve``, port 8080,
            ``/ping`` and ``/invocations``).
        """
        return ServingImage(
            "asset", lambda _scope: BoundServingImage(asset.image_uri, asset.repository.grant_pull, asset, False)
        )

    @staticmethod
    def from_repository(repository: ecr.IRepository, tag_or_digest: str) -> ServingImage:
        """An image in ``repository``, by tag or digest (``sha256:...``).

        :param repository: the ECR repository; the endpoint's role may pull from it.
        :param tag_or_digest: an image tag, or a digest ``sha256:...``.
        """
        if not tag_or_digest:
            raise ValueError("tag_or_digest is empty: pass the tag or digest (sha256:...) of the serving image")
        uri = repository.repository_uri_for_tag_or_digest(tag_or_digest)
        return ServingImage("repository", lambda _scope: BoundServingImage(uri, repository.grant_pull, None, False))
