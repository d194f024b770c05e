"""How the internal load balancer listens: plain HTTP inside the VPC, or HTTPS with a certificate."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_acmpca as acmpca
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53

from mlflow_sagemaker_constructs._internal import validation as check


class CertificateSource(enum.Enum):
    """Where the HTTPS listener's certificate comes from."""

    GIVEN = "given"
    DNS_VALIDATED = "dns-validated"
    PRIVATE_CA = "private-ca"


@dataclass(frozen=True, kw_only=True)
class Listener:
    """The load balancer's listener: :meth:`http` (the default), or HTTPS with :meth:`https`,
    :meth:`https_with_dns_validated_certificate` or :meth:`https_with_private_certificate`.

    With HTTPS, clients in the VPC use ``https://<domain_name>``; the domain is added to the server's allowed
    hosts, and an alias record to the load balancer is created in ``hosted_zone`` when one is given.
    Plain HTTP is unencrypted between clients and the load balancer inside the VPC (see the security page).
    """

    port: int
    domain_name: str | None = None
    hosted_zone: route53.IHostedZone | None = None
    certificate: acm.ICertificate | None = None
    certificate_source: CertificateSource | None = None
    certificate_authority: acmpca.ICertificateAuthority | None = None

    @property
    def is_https(self) -> bool:
        """True for the HTTPS variants."""
        return self.certificate_source is not None

    @staticmethod
    def http(*, port: int = 80) -> Listener:
        """Plain HTTP inside the VPC.

        :param port: listener port. Default: 80.
        """
        listener = Listener(port=port)
        listener.validate()
        return listener

    @staticmethod
    def https(
        *,
        certificate: acm.ICertificate,
        domain_name: str,
        hosted_zone: route53.IHostedZone | None = None,
        port: int = 443,
    ) -> Listener:
        """HTTPS with a certificate you have (ACM, or imported into ACM) for ``domain_name``.

        :param certificate: the certificate; it must cover ``domain_name``.
        :param domain_name: the name clients use; added to the server's allowed hosts.
        :param hosted_zone: a zone in which to create an alias record for ``domain_name``. Default: no record.
        :param port: listener port. Default: 443.
        """
        return Listener._https(CertificateSource.GIVEN, port, domain_name, hosted_zone, certificate=certificate)

    @staticmethod
    def https_with_dns_validated_certificate(
        *, domain_name: str, hosted_zone: route53.IHostedZone, port: int = 443
    ) -> Listener:
        """HTTPS with a public ACM certificate for ``domain_name``, validated through ``hosted_zone`` (a public
        zone), and an alias record there. The name resolves to the internal load balancer's private addresses.

        :param domain_name: the name clients use; added to the server's allowed hosts.
        :param hosted_zone: the public zone that contains ``domain_name``: it validates the certificate and
            holds the alias record.
        :param port: listener port. Default: 443.
        """
        return Listener._https(CertificateSource.DNS_VALIDATED, port, domain_name, hosted_zone)

    @staticmethod
    def https_with_private_certificate(
        *,
        domain_name: str,
        certificate_authority: acmpca.ICertificateAuthority,
        hosted_zone: route53.IHostedZone | None = None,
        port: int = 443,
    ) -> Listener:
        """HTTPS with a certificate issued by your AWS Private CA (clients must trust that CA), for example
        with a private hosted zone that only the VPC resolves.

        :param domain_name: the name clients use; added to the server's allowed hosts.
        :param certificate_authority: the private CA that issues the certificate.
        :param hosted_zone: a zone in which to create an alias record for ``domain_name``. Default: no record.
        :param port: listener port. Default: 443.
        """
        return Listener._https(
            CertificateSource.PRIVATE_CA, port, domain_name, hosted_zone, certificate_authority=certificate_authority
        )

    @staticmethod
    def _https(
        source: CertificateSource,
        port: int,
        domain_name: str,
        hosted_zone: route53.IHostedZone | None,
        *,
        certificate: acm.ICertificate | None = None,
        certificate_authority: acmpca.ICertificateAuthority | None = None,
    ) -> Listener:
        listener = Listener(
            port=port,
            domain_name=domain_name,
            hosted_zone=hosted_zone,
            certificate=certificate,
            certificate_source=source,
            certificate_authority=certificate_authority,
        )
        listener.validate()
        return listener

    def validate(self) -> None:
        check.in_range(self.port, 1, 65535, "port")
        if self.domain_name is None:
            return
        check.check_host(self.domain_name, "domain_name")
        zone = self.hosted_zone.zone_name.rstrip(".") if self.hosted_zone is not None else None
        comparable = zone and not check.is_token(zone) and not check.is_token(self.domain_name)
        if comparable and self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
            raise ValueError(
                f"domain_name ({self.domain_name}) is not in hosted_zone ({zone}): pass the zone that contains it"
            )

    def url(self, load_balancer_host: str) -> str:
        """The URL clients in the VPC use."""
        scheme = "https" if self.is_https else "http"
        host = self.domain_name if self.is_https and self.domain_name else load_balancer_host
        default = 443 if self.is_https else 80
        return f"{scheme}://{host}" if self.port == default else f"{scheme}://{host}:{self.port}"
