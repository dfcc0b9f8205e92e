"""xinlian_client: a small client for the xinlian node's HTTP API (README, "The client contract")."""

from .client import Client, XinlianError, sign_put, sign_transfer, verify_block
from .keys import Key, der_to_raw, raw_to_der, verify
from . import wire

__all__ = ["Client", "XinlianError", "Key", "sign_put", "sign_transfer", "verify_block", "verify",
           "der_to_raw", "raw_to_der", "wire"]
