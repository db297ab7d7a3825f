#!/usr/bin/python3
"""Latency and throughput of describe_server: one client alone, then C concurrent clients, each posting an image
R times. Starts the server itself on a free port.

  /usr/bin/python3 benchmarks/server_load.py [--build build] [--image weights/sample_shapes.jpg] [--clients 4]
"""
import argparse
import os
import re
import statistics
import subprocess
import threading
import time
import urllib.request


def post(url, body):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "image/jpeg"}, method="POST")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        assert response.status == 200
    return time.perf_counter() - start


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(here, "..", "build"))
    parser.add_argument("--image", default=os.path.join(here, "..", "weights", "sample_shapes.jpg"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--models", type=int, default=2)
    args = parser.parse_args()
    body = open(args.image, "rb").read()
    server = subprocess.Popen([os.path.join(args.build, "examples", "describe_server"), "--port", "0",
                               "--models", str(args.models)], stdout=subprocess.PIPE, text=True)
    try:
        base = re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline()).group(0)
        url = f"{base}api/describe?beam={args.beam}"
        for _ in range(3):
            post(url, body)  # warm-up
        alone = [post(url, body) for _ in range(args.requests)]
        print(f"one client: median {statistics.median(alone) * 1000:.1f} ms, "
              f"min {min(alone) * 1000:.1f} ms per request (beam {args.beam}, caption + WAV)")
        times = []
        lock = threading.Lock()

        def client():
            for _ in range(args.requests):
                t = post(url, body)
                with lock:
                    times.append(t)

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        print(f"{args.clients} clients ({args.models} models): {len(times) / wall:.1f} requests/s, "
              f"median latency {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {sorted(times)[int(0.95 * len(times))] * 1000:.1f} ms; "
              f"one client alone: {1 / statistics.median(alone):.1f} requests/s")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
