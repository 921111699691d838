"""Start batch-emulator from Python tests and get an ``azure.batch.BatchClient`` for it.

    from batch_emulator import BatchEmulator

    with BatchEmulator() as emu:            # the binary: BATCH_EMULATOR_BIN, or on PATH
        client = emu.client()               # azure.batch.BatchClient (azure-batch 15.x)

    with BatchEmulator(image="batch-emulator") as emu:   # or its container image (Linux)
        ...

The emulator is started with a fresh data directory and a free port on 127.0.0.1, and
stopped (SIGTERM: its task processes and containers go) when the block ends. pytest users get
the ``batch_emulator`` and ``batch_client`` fixtures from the plugin this package installs.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

__all__ = ["BatchEmulator", "EmulatorNotFound"]

READY = "batch-emulator ready:"


class EmulatorNotFound(RuntimeError):
    """Neither BATCH_EMULATOR_BIN nor a batch-emulator on PATH (and no image was given)."""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BatchEmulator:
    """A running batch-emulator: ``url``, ``account``, ``key`` and ``client()``."""

    def __init__(self, binary=None, image=None, args=(), timeout=60.0):
        self.binary, self.image, self.args, self.timeout = binary, image, list(args), timeout
        self.url = self.account = self.key = None
        self._proc = self._container = self._dir = None
        self.banner = []

    # -- starting and stopping -------------------------------------------------------------

    def start(self):
        self._dir = tempfile.mkdtemp(prefix="batch-emulator-")
        data = os.path.join(self._dir, "data")
        os.makedirs(data)
        if self.image:
            self._start_image(data)
        else:
            self._start_binary(data)
        return self

    def _start_binary(self, data):
        binary = self.binary or os.environ.get("BATCH_EMULATOR_BIN") or shutil.which("batch-emulator")
        if not binary:
            raise EmulatorNotFound("set BATCH_EMULATOR_BIN or put batch-emulator on PATH (or pass image=...)")
        cmd = [binary, "--addr", "127.0.0.1:0", "--data-dir", data, *self.args]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        self._read_banner(self._proc.stdout)

    def _start_image(self, data):
        # The host's engine runs task containers and mounts node directories by their host
        # path: the data directory is mounted at the same path, with the host's network.
        os.chmod(data, 0o777)
        port = _free_port()
        gid = os.stat("/var/run/docker.sock").st_gid
        cmd = ["docker", "run", "-d", "--network", "host", "--group-add", str(gid),
               "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{data}:{data}",
               self.image, "--addr", f"127.0.0.1:{port}", "--data-dir", data, *self.args]
        self._container = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        logs = subprocess.Popen(["docker", "logs", "-f", self._container], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            self._read_banner(logs.stdout)
        finally:
            threading.Thread(target=lambda: (logs.stdout.read(), logs.wait()), daemon=True).start()

    def _read_banner(self, stream):
        found = {}

        def read():
            for line in stream:
                if line.startswith(READY):
                    found["line"] = line.strip()
                    break
                self.banner.append(line.rstrip())
            # Keep draining, as a reader must (the emulator writes to it while it runs).
            for _ in stream:
                pass

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while "line" not in found:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"batch-emulator exited with {self._proc.returncode}: {self.banner}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"no readiness line from batch-emulator: {self.banner}")
            time.sleep(0.02)
        fields = dict(w.split("=", 1) for w in found["line"][len(READY):].split() if "=" in w)
        self.url, self.account, self.key = fields["url"], fields["account"], fields["key"]

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._container:
            subprocess.run(["docker", "stop", "-t", "20", self._container], capture_output=True)
            subprocess.run(["docker", "rm", "-f", self._container], capture_output=True)
            self._container = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- clients ------------------------------------------------------------------------------

    def client(self):
        """An ``azure.batch.BatchClient`` (azure-batch 15.x) with the emulator's Shared Key."""
        from azure.batch import BatchClient
        from azure.core.credentials import AzureNamedKeyCredential

        return BatchClient(self.url, AzureNamedKeyCredential(self.account, self.key))

    # -- the control API (README "Fault injection") --------------------------------------------

    def control(self, method, path, body=None):
        """Sends a control API request (``path`` under ``/emulator/``), signed with the account
        key; returns the parsed answer, raises ``azure.core.exceptions.HttpResponseError``."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, "/emulator/" + path.lstrip("/"), json=body)
        with self.client() as client:
            response = client.send_request(request)
            if response.status_code >= 300:
                raise HttpResponseError(response=response)
            return response.json() if response.content else None

    def reset(self):
        """Empties the account (pools, nodes, jobs, schedules); faults back to the flags'."""
        return self.control("POST", "reset")

    def preempt_node(self, pool_id, node_id):
        """Preempts a Spot/low-priority node: its running tasks rerun elsewhere."""
        return self.control("POST", f"pools/{pool_id}/nodes/{node_id}/preempt")

    def recover_node(self, pool_id, node_id):
        """Brings a preempted node back."""
        return self.control("POST", f"pools/{pool_id}/nodes/{node_id}/recover")

    def make_node_unusable(self, pool_id, node_id, errors=None):
        """Turns a node ``unusable`` with ``errors`` (BatchNodeError dicts)."""
        return self.control("POST", f"pools/{pool_id}/nodes/{node_id}/unusable", {"errors": errors or []})

    def set_fault(self, kind, **settings):
        """Injects a fault: ``throttle`` (status, share, operation, remaining,
        retryAfterSeconds), ``latency`` (milliseconds, operation), ``image-pull`` or
        ``resource-file`` (count, status, message)."""
        return self.control("PUT", f"faults/{kind}", settings)

    def clear_fault(self, kind):
        return self.control("DELETE", f"faults/{kind}")
