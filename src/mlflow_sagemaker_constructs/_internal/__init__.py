"""Internals shared by the constructs: validation, cdk-nag acknowledgements, fix-ups. Not public API."""
