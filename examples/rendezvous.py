"""Two (or more) ranks meet over TCP using only the variables the platform injects.

    hai-cli server start --nodes 2
    hai-cli python examples/rendezvous.py -- -n 2 -f

Rank 0 listens on MASTER_ADDR:MASTER_PORT; every other rank connects and sends its rank;
rank 0 answers with the world it saw. This is what torch.distributed's env:// init does.
"""

from __future__ import annotations

import os
import socket
import time


def main() -> None:
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    print(
        f"rank {rank}/{world} on node {os.environ.get('HAI_NODE')} -> master {addr}:{port}",
        flush=True,
    )
    if rank == 0:
        server = socket.create_server((addr, port))
        server.settimeout(60)
        peers = {}
        while len(peers) < world - 1:
            conn, _ = server.accept()
            peers[int(conn.recv(16).decode())] = conn
        seen = sorted([0, *peers])
        for conn in peers.values():
            conn.sendall(",".join(map(str, seen)).encode())
            conn.close()
        server.close()
    else:
        deadline = time.time() + 60
        while True:
            try:
                conn = socket.create_connection((addr, port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        conn.sendall(str(rank).encode())
        seen = [int(x) for x in conn.recv(1024).decode().split(",")]
        conn.close()
    print(f"rendezvous ok: rank {rank} sees ranks {seen}", flush=True)


if __name__ == "__main__":
    main()
