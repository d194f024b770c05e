"""Tests of the SageMaker Studio lifecycle script."""
