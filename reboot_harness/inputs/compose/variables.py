"""What the harness's compose files read from it: the variables Compose interpolates into them
and the names of the stack's secrets (see compose/README.md)."""

from __future__ import annotations

SECRET_NAMES = (
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_REPL_PASSWORD",
    "MYSQL_APP_PASSWORD",
    "REDIS_PASSWORD",
)


def compose_variables(
    *,
    project: str,
    base_image: str,
    image_tag: str,
    subnet_prefix: str,
    domain: str,
    secrets_file: str,
    owner: str,
    keep: bool,
) -> dict[str, str]:
    """The variables Compose interpolates into the stack files (see compose/README.md)."""
    return {
        "COMPOSE_PROJECT_NAME": project,
        "RH_BASE_IMAGE": base_image,
        "RH_IMAGE_TAG": image_tag,
        "RH_SUBNET_PREFIX": subnet_prefix,
        "RH_DOMAIN": domain,
        "RH_SECRETS_FILE": secrets_file,
        "RH_OWNER": owner,
        "RH_KEEP": "true" if keep else "false",
    }
