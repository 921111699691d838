"""pytest fixtures: ``batch_emulator`` (one emulator for the session) and ``batch_client``.

The binary comes from BATCH_EMULATOR_BIN or PATH; set BATCH_EMULATOR_IMAGE to use the
container image instead.
"""
import os

import pytest

from . import BatchEmulator


@pytest.fixture(scope="session")
def batch_emulator():
    with BatchEmulator(image=os.environ.get("BATCH_EMULATOR_IMAGE")) as emu:
        yield emu


@pytest.fixture
def batch_client(batch_emulator):
    return batch_emulator.client()
