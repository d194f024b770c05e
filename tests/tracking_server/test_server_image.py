"""ServerImage and the task's CPU architecture: Graviton by default, the image built for it, mismatches refused.

The Dockerfile is architecture-neutral; a local asset build targets the task's platform; a deploy-time build runs
on a CodeBuild host of the task's architecture; a prebuilt image that declares its architecture is refused on a
task of another one.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Annotations, Match, Template

from mlflow_sagemaker_constructs import SecureMlflowService, ServerImage
from mlflow_sagemaker_constructs.tracking_server import server_image
from mlflow_sagemaker_constructs.tracking_server.server import SERVER_IMAGE_DIRECTORY
from tests.harness import assert_cfn_lint_clean, assert_nag_clean, new_app, new_stack
from tests.harness.dockerfile import instructions
from tests.harness.vpc import imported_vpc

pytestmark = pytest.mark.xdist_group("server-image")

REGISTRY_IMAGE = "public.ecr.aws/example/mlflow:3.17.2"


def _service(**props: Any) -> tuple[cdk.App, cdk.Stack, SecureMlflowService]:
    app = new_app()
    stack = new_stack(app)
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), **props)
    return app, stack, service


def _task_definition(stack: cdk.Stack) -> dict[str, Any]:
    (definition,) = Template.from_stack(stack).find_resources("AWS::ECS::TaskDefinition").values()
    return dict(definition["Properties"])


def _asset_platforms(app: cdk.App) -> list[str]:
    assembly = app.synth()
    platforms = []
    for path in Path(assembly.directory).glob("*.assets.json"):
        for image in json.loads(path.read_text()).get("dockerImages", {}).values():
            platforms.append(image["source"].get("platform", ""))
    return platforms


# ------------------------------------------------------------------------------------------ the default


def test_the_default_task_is_arm64_and_its_local_build_targets_linux_arm64() -> None:
    app, stack, service = _service()
    definition = _task_definition(stack)
    assert definition["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    assert (definition["Cpu"], definition["Memory"]) == ("512", "1024")
    assert server_image.architecture_name(service.cpu_architecture) == "ARM64"
    assert _asset_platforms(app) == ["linux/arm64"]


def test_x86_64_on_request_builds_for_linux_amd64() -> None:
    app, stack, _ = _service(cpu_architecture=ecs.CpuArchitecture.X86_64)
    assert _task_definition(stack)["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    assert _asset_platforms(app) == ["linux/amd64"]


def test_a_local_build_for_another_architecture_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulated builds work (Docker Desktop, buildx with QEMU) but are slow, and fail late without binfmt."""
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    _, stack, _ = _service()
    Annotations.from_stack(stack).has_info("*", Match.string_like_regexp("built locally for ARM64 on a X86_64"))
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    _, native, _ = _service()
    assert not Annotations.from_stack(native).find_info("*", Match.string_like_regexp("emulates"))


# ------------------------------------------------------------------------------------------ deploy-time build


@pytest.mark.parametrize(
    ("architecture", "environment_type", "image", "platform"),
    [
        (ecs.CpuArchitecture.ARM64, "ARM_CONTAINER", "aarch64", "linux/arm64"),
        (ecs.CpuArchitecture.X86_64, "LINUX_CONTAINER", "standard", "linux/amd64"),
    ],
    ids=["arm64", "x86_64"],
)
def test_the_deploy_time_build_runs_on_a_host_of_the_task_architecture(
    architecture: ecs.CpuArchitecture, environment_type: str, image: str, platform: str
) -> None:
    _, stack, _ = _service(image=ServerImage.deploy_time_build(), cpu_architecture=architecture)
    template = Template.from_stack(stack)
    (project,) = template.find_resources("AWS::CodeBuild::Project").values()
    environment = project["Properties"]["Environment"]
    assert environment["Type"] == environment_type
    assert image in environment["Image"]
    # The build is told the platform too, so buildx never cross-builds on that host.
    assert platform in json.dumps(template.to_json())
    assert _task_definition(stack)["RuntimePlatform"]["CpuArchitecture"] == server_image.architecture_name(architecture)


def test_architectures_other_than_the_two_constants_are_refused() -> None:
    with pytest.raises(ValueError, match=r"cpu_architecture must be ecs\.CpuArchitecture\.ARM64"):
        _service(cpu_architecture=ecs.CpuArchitecture.of("RISCV64"))


def test_the_default_is_cfn_lint_and_cdk_nag_clean() -> None:
    app, stack, _ = _service()
    assert_cfn_lint_clean(Template.from_stack(stack).to_json(), name="arm64 default")
    assert_nag_clean(app)


# ------------------------------------------------------------------------------------------ prebuilt images


def test_a_prebuilt_image_declaring_its_architecture_sets_the_task() -> None:
    image = ServerImage.from_container_image(
        ecs.ContainerImage.from_registry(REGISTRY_IMAGE), architecture=ecs.CpuArchitecture.X86_64
    )
    _, stack, service = _service(image=image)
    assert server_image.architecture_name(service.cpu_architecture) == "X86_64"
    assert _task_definition(stack)["RuntimePlatform"]["CpuArchitecture"] == "X86_64"


def test_a_prebuilt_image_for_another_architecture_is_refused() -> None:
    image = ServerImage.from_container_image(
        ecs.ContainerImage.from_registry(REGISTRY_IMAGE), architecture=ecs.CpuArchitecture.X86_64
    )
    with pytest.raises(ValueError, match=r"image is built for X86_64 .* cpu_architecture is ARM64"):
        _service(image=image, cpu_architecture=ecs.CpuArchitecture.ARM64)


def test_a_prebuilt_image_without_an_architecture_needs_one_said() -> None:
    image = ServerImage.from_container_image(ecs.ContainerImage.from_registry(REGISTRY_IMAGE))
    with pytest.raises(ValueError, match="does not say which architecture"):
        _service(image=image)
    _, stack, _ = _service(image=image, cpu_architecture=ecs.CpuArchitecture.ARM64)  # a multi-arch image
    assert _task_definition(stack)["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


# ------------------------------------------------------------------------------------------ the Dockerfile


def test_the_dockerfile_is_architecture_neutral() -> None:
    """One Dockerfile for both: no pinned platform, no architecture-specific names or downloads."""
    dockerfile = SERVER_IMAGE_DIRECTORY / "Dockerfile"
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            assert "--platform" not in rest
        assert not re.search(r"amd64|x86_64|aarch64|arm64|armv8", rest, re.IGNORECASE), (keyword, rest)
    # The base is a multi-architecture official image (ECR Public's mirror of python:*-slim).
    text = dockerfile.read_text()
    assert "ARG BASE_IMAGE=public.ecr.aws/docker/library/python:" in text
