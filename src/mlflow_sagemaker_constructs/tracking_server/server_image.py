"""How the MLflow server image reaches ECR: built locally, built in AWS at deploy time, or prebuilt."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION

# Python caches next to the sources must not change the image (or its asset hash).
_EXCLUDE = ["**/__pycache__", "**/*.pyc"]

_Binder = Callable[[Construct, ecs.CpuArchitecture], ecs.ContainerImage]


def _platform(architecture: ecs.CpuArchitecture) -> ecr_assets.Platform:
    if architecture == ecs.CpuArchitecture.ARM64:
        return ecr_assets.Platform.LINUX_ARM64
    return ecr_assets.Platform.LINUX_AMD64


def _build_args(extra: Mapping[str, str] | None) -> dict[str, str]:
    return {"MLFLOW_VERSION": MLFLOW_VERSION, **(extra or {})}


class ServerImage:
    """The container image of the MLflow server; pass one to ``SecureMlflowService(image=...)``.

    - :meth:`bundled_asset` (default): the Dockerfile shipped in this package, built by ``cdk deploy`` on
      the deploying machine (needs a Docker-compatible engine there) and pushed to the CDK asset repository.
    - :meth:`deploy_time_build`: the same Dockerfile built by AWS CodeBuild during deployment
      (``cdklabs-deploy-time-build``): no local Docker and no local disk for image layers.
    - :meth:`from_container_image`: any prebuilt image; it must honour the environment contract in
      ``mlflow_sagemaker_constructs.tracking_server.server.contract`` (the bundled Dockerfile does).
    """

    def __init__(self, kind: str, binder: _Binder) -> None:
        self.kind = kind
        self._binder = binder

    def bind(self, scope: Construct, architecture: ecs.CpuArchitecture) -> ecs.ContainerImage:
        """Create whatever the image needs under ``scope`` and return it for the task definition."""
        return self._binder(scope, architecture)

    @staticmethod
    def bundled_asset(*, build_args: Mapping[str, str] | None = None) -> ServerImage:
        """Build the bundled Dockerfile locally as a CDK Docker image asset.

        :param build_args: extra Docker build arguments, e.g. ``{"BASE_IMAGE": "..."}``; ``MLFLOW_VERSION``
            is always the library's pinned version unless overridden here. Default: none.
        """

        def bind(scope: Construct, architecture: ecs.CpuArchitecture) -> ecs.ContainerImage:
            return ecs.ContainerImage.from_docker_image_asset(
                ecr_assets.DockerImageAsset(
                    scope,
                    "ServerImage",
                    directory=str(SERVER_IMAGE_DIRECTORY),
                    build_args=_build_args(build_args),
                    platform=_platform(architecture),
                    exclude=_EXCLUDE,
                )
            )

        return ServerImage("bundled-asset", bind)

    @staticmethod
    def deploy_time_build(*, build_args: Mapping[str, str] | None = None) -> ServerImage:
        """Build the bundled Dockerfile in AWS CodeBuild during ``cdk deploy`` (no local Docker needed).

        :param build_args: extra Docker build arguments, as for :meth:`bundled_asset`. Default: none.
        """

        def bind(scope: Construct, architecture: ecs.CpuArchitecture) -> ecs.ContainerImage:
            # Imported lazily: the package is only needed by users who choose this mode.
            from cdklabs.deploy_time_build import ContainerImageBuild

            build = ContainerImageBuild(
                scope,
                "ServerImageBuild",
                directory=str(SERVER_IMAGE_DIRECTORY),
                build_args=_build_args(build_args),
                platform=_platform(architecture),
                exclude=_EXCLUDE,
            )
            return build.to_ecs_docker_image_code()

        return ServerImage("deploy-time-build", bind)

    @staticmethod
    def from_container_image(image: ecs.ContainerImage) -> ServerImage:
        """Use a prebuilt image.

        :param image: the image, for example ``ecs.ContainerImage.from_ecr_repository(repo, tag)``; it must honour
            the environment contract in ``mlflow_sagemaker_constructs.tracking_server.server.contract``.
        """
        return ServerImage("container-image", lambda _scope, _arch: image)
