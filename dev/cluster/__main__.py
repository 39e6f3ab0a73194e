"""``make cluster``: the production topology on this machine; Ctrl-C stops all of it.

``python -m dev.cluster [--folder var/cluster] [--proxy-port 8080] [--free-ports]``

A part that dies is started again (dev/cluster/supervise.py) and the proxy routes around
it meanwhile; only Ctrl-C or SIGTERM stops everything. If the launcher itself is killed,
the kernel stops every part it started. ``<folder>/cluster.json`` says where each part
listens and its process id.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from types import FrameType

from clinic.config.private_files import private_files
from clinic.knowledge.kb import PROJECT_ROOT
from dev.cluster.services import ClusterError
from dev.cluster.supervise import Supervisor
from dev.cluster.topology import CLUSTER_ENDPOINTS, Cluster, Ports, cluster_endpoints_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=PROJECT_ROOT / "var" / "cluster",
                        help="data, logs and generated configuration (default var/cluster)")
    parser.add_argument("--proxy-port", type=int, default=8080)
    parser.add_argument("--free-ports", action="store_true",
                        help="every part on a free loopback port (a second cluster, tests); "
                             "see <folder>/cluster.json")
    parser.add_argument("--write-endpoints", action="store_true",
                        help="regenerate deploy/endpoints.yml from endpoints.yml and exit")
    args = parser.parse_args(argv)
    private_files()
    if args.write_endpoints:
        CLUSTER_ENDPOINTS.write_text(cluster_endpoints_text(), encoding="utf-8")
        print(f"wrote {CLUSTER_ENDPOINTS.relative_to(PROJECT_ROOT)}")
        return 0

    ports = Ports.free() if args.free_ports else Ports(proxy=args.proxy_port)
    cluster = Cluster(args.folder.resolve(), ports)
    supervisor_log = cluster.logs / "supervisor.log"

    def log(line: str) -> None:
        stamped = f"{datetime.now().astimezone().isoformat(timespec='seconds')} {line}"
        print(stamped, file=sys.stderr, flush=True)
        with supervisor_log.open("a", encoding="utf-8") as out:
            out.write(stamped + "\n")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.start()
        api_hint = "Authorization: Bearer $(grep CLINIC_API_TOKEN " \
                   f"{cluster.folder / 'secrets.env'} | cut -d= -f2)"
        print(f"""
  The clinic assistant runs as a cluster.
{cluster.summary()}

    Website demo with the chat widget:  {cluster.url}/
    Chat over REST (through the proxy, with the API token):
      curl -s {cluster.url}/webhooks/rest/webhook -H "{api_hint}" \\
        -d '{{"sender": "me", "message": "can microneedling help acne scars?"}}'
  Press Ctrl-C to stop everything.
""", flush=True)
        cluster.write_state()
        supervisor = Supervisor(cluster, log, on_change=cluster.write_state)
        while True:
            supervisor.check()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except ClusterError as error:
        print(f"make cluster: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping the cluster ...", flush=True)
        # A second SIGTERM while stopping ends the launcher at once; the kernel then stops
        # the parts still running (die_with_parent).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        cluster.stop()
        (cluster.folder / "cluster.json").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
