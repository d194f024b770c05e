"""How the MLflow server image reaches ECR: built locally, built in AWS at deploy time, or prebuilt."""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY
from mlflow_sagemaker_constructs.versions import MLFLOW_VERSION

# Python caches next to the sources must not change the image (or its asset hash).
_EXCLUDE = ["**/__pycache__", "**/*.pyc"]

_Binder = Callable[[Construct, ecs.CpuArchitecture], ecs.ContainerImage]


def architecture_name(architecture: ecs.CpuArchitecture) -> str:
    """``ARM64`` or ``X86_64``.

    ``ecs.CpuArchitecture`` objects neither compare equal (``==`` is identity, and each access of
    ``ecs.CpuArchitecture.ARM64`` returns a new proxy) nor expose their value; the proxies of the two constants
    share the reference of the one JavaScript object behind them, which is what is compared here.
    """
    reference = _reference(architecture)
    for name in ("ARM64", "X86_64"):
        if reference == _reference(getattr(ecs.CpuArchitecture, name)):
            return name
    raise ValueError(
        "cpu_architecture must be ecs.CpuArchitecture.ARM64 or ecs.CpuArchitecture.X86_64 (Fargate's two Linux "
        "architectures), not a value made with CpuArchitecture.of()"
    )


def _reference(value: object) -> object:
    return getattr(getattr(value, "__jsii_ref__", None), "ref", None)


def same_architecture(first: ecs.CpuArchitecture, second: ecs.CpuArchitecture) -> bool:
    """Whether two ``ecs.CpuArchitecture`` values name the same architecture."""
    return architecture_name(first) == architecture_name(second)


def _platform(architecture: ecs.CpuArchitecture) -> ecr_assets.Platform:
    if architecture_name(architecture) == "ARM64":
        return ecr_assets.Platform.LINUX_ARM64
    return ecr_assets.Platform.LINUX_AMD64


def _host_architecture() -> ecs.CpuArchitecture | None:
    """The architecture of the machine that synthesizes (and, with ``cdk deploy``, usually builds)."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return ecs.CpuArchitecture.ARM64
    if machine in ("x86_64", "amd64"):
        return ecs.CpuArchitecture.X86_64
    return None


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

    The bundled Dockerfile is architecture-neutral (a multi-architecture base image, wheels for x86_64 and
    aarch64): the first two build it for the task's ``cpu_architecture``, and a deploy-time build runs on an ARM
    CodeBuild host for an ARM64 task, so nothing is emulated there. A prebuilt image is built for one
    architecture only; say which with ``from_container_image(..., architecture=...)`` and a mismatch with the
    task is refused at synthesis.
    """

    def __init__(self, kind: str, binder: _Binder, architecture: ecs.CpuArchitecture | None = None) -> None:
        self.kind = kind
        self._binder = binder
        #: The one architecture a prebuilt image runs on, when declared; None when the image is built for the
        #: task's architecture (or nobody said).
        self.architecture = architecture

    def bind(self, scope: Construct, architecture: ecs.CpuArchitecture) -> ecs.ContainerImage:
        """Create whatever the image needs under ``scope`` and return it for the task definition.

        Raises when the image is declared for another architecture than ``architecture`` (the task's): such a
        task would deploy and then fail every start with ``exec format error``.
        """
        if self.architecture is not None and not same_architecture(self.architecture, architecture):
            raise ValueError(
                f"image is built for {architecture_name(self.architecture)} (from_container_image(architecture=...)) "
                f"but cpu_architecture is {architecture_name(architecture)}: the task could not start. Pass "
                f"cpu_architecture=ecs.CpuArchitecture.{architecture_name(self.architecture)}, or an image built for "
                f"{architecture_name(architecture)}"
            )
        return self._binder(scope, architecture)

    @staticmethod
    def bundled_asset(*, build_args: Mapping[str, str] | None = None) -> ServerImage:
        """Build the bundled Dockerfile locally as a CDK Docker image asset.

        :param build_args: extra Docker build arguments, e.g. ``{"BASE_IMAGE": "..."}``; ``MLFLOW_VERSION``
            is always the library's pinned version unless overridden here. Default: none.
        """

        def bind(scope: Construct, architecture: ecs.CpuArchitecture) -> ecs.ContainerImage:
            host = _host_architecture()
            if host is not None and not same_architecture(host, architecture):
                # Not an error: Docker Desktop and buildx with QEMU build it, only slower. Said at synthesis
                # because on a Linux Docker engine without binfmt handlers the build fails late, at "RUN pip".
                cdk.Annotations.of(scope).add_info(
                    f"The server image is built locally for {architecture_name(architecture)} on a "
                    f"{architecture_name(host)} machine: Docker emulates the other architecture (QEMU; on "
                    "Linux register it once with binfmt), which is slower. ServerImage.deploy_time_build() builds "
                    "on a CodeBuild host of the task's architecture instead."
                )
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

        The CodeBuild project runs on an ARM host (``ARM_CONTAINER``, Amazon Linux aarch64) for an ARM64 task
        and on an x86 host otherwise, so the image is built natively for the task.

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
    def from_container_image(
        image: ecs.ContainerImage, *, architecture: ecs.CpuArchitecture | None = None
    ) -> ServerImage:
        """Use a prebuilt image.

        :param image: the image, for example ``ecs.ContainerImage.from_ecr_repository(repo, tag)``; it must honour
            the environment contract in ``mlflow_sagemaker_constructs.tracking_server.server.contract``.
        :param architecture: the architecture the image was built for. With it, ``SecureMlflowService`` runs the
            task on that architecture when ``cpu_architecture`` is not given, and refuses a different
            ``cpu_architecture``. Without it, pass ``cpu_architecture`` to the service (it cannot know the
            image's). Default: not declared (a multi-architecture image, or one you vouch for).
        """
        return ServerImage("container-image", lambda _scope, _arch: image, architecture)
