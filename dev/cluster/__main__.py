"""``make cluster``: the production topology on this machine; Ctrl-C stops all of it.

``python -m dev.cluster [--folder var/cluster] [--proxy-port 8080]``
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from clinic.knowledge.kb import PROJECT_ROOT
from dev.cluster.services import ClusterError
from dev.cluster.topology import CLUSTER_ENDPOINTS, Cluster, Ports, cluster_endpoints_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=PROJECT_ROOT / "var" / "cluster",
                        help="data, logs and generated configuration (default var/cluster)")
    parser.add_argument("--proxy-port", type=int, default=8080)
    parser.add_argument("--write-endpoints", action="store_true",
                        help="regenerate deploy/endpoints.yml from endpoints.yml and exit")
    args = parser.parse_args(argv)
    if args.write_endpoints:
        CLUSTER_ENDPOINTS.write_text(cluster_endpoints_text(), encoding="utf-8")
        print(f"wrote {CLUSTER_ENDPOINTS.relative_to(PROJECT_ROOT)}")
        return 0

    cluster = Cluster(args.folder.resolve(), Ports(proxy=args.proxy_port))
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
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
        while True:
            for name, process in cluster.processes.items():
                if not process.running():
                    print(f"{name} stopped (log: {process.log}); shutting down the rest.",
                          file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except ClusterError as error:
        print(f"make cluster: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping the cluster ...", flush=True)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
