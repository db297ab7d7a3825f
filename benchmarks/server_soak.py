#!/usr/bin/env python3
"""Soak test of describe_server under attack (Python 3 standard library only).

For --minutes (default 1), good clients POST the sample image to /api/describe while hostile ones run beside them:
sockets that send their headers a byte a second, idle sockets, chunked upload bombs and requests declaring an
absurd Content-Length. Prints the good clients' p50/p99 latency and error count, what the hostile ones met, and
the server's peak RSS (VmHWM from /proc/PID/status).

    benchmarks/server_soak.py --server build/examples/describe_server --image weights/sample_shapes.jpg
    benchmarks/server_soak.py --port 8080 --pid 12345 --image weights/sample_shapes.jpg   # a server already running
"""
import argparse
import re
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"


def connect(port, timeout=10):
    return socket.create_connection((HOST, port), timeout=timeout)


def post_image(port, image):
    """One describe over a fresh connection; returns (status, seconds)."""
    start = time.monotonic()
    with connect(port, timeout=30) as s:
        s.sendall(b"POST /api/describe?beam=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(image) + image)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    m = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    return (int(m.group(1)) if m else 0), time.monotonic() - start


def good_client(port, image, stop, latencies, errors):
    while not stop.is_set():
        try:
            status, seconds = post_image(port, image)
            if stop.is_set():  # an answer cut short by the SIGTERM that ends the soak is not the server's fault
                return
            if status == 200:
                latencies.append(seconds)
            else:
                errors.append(f"status {status}")
        except OSError as e:
            errors.append(str(e))


def slow_headers(port, stop, counts):
    """Sends "GET … X-Slow: aaaa…" a byte a second until cut, then starts over."""
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    while not stop.is_set():
        try:
            with connect(port) as s:
                for i in range(len(head)):
                    if stop.is_set():
                        return
                    s.sendall(head[i:i + 1])
                    time.sleep(1)
        except OSError:
            counts["slow cut"] += 1


def idle_sockets(port, stop, n, counts):
    """Keeps n connections open that never send a byte, reopening those the server closes."""
    sockets = []
    while not stop.is_set():
        while len(sockets) < n:
            try:
                sockets.append(connect(port))
            except OSError:
                counts["idle refused"] += 1
                break
        time.sleep(1)
        for s in list(sockets):
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    raise OSError
            except BlockingIOError:
                continue
            except OSError:
                counts["idle closed"] += 1
                sockets.remove(s)
                s.close()
    for s in sockets:
        s.close()


def chunked_bomb(port, stop, counts):
    """Streams 50 MB chunked; counts the 413s that came before the end."""
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    while not stop.is_set():
        try:
            with connect(port) as s:
                s.sendall(b"POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(800):
                    s.sendall(chunk)
                s.settimeout(5)
                answer = s.recv(64)
            counts["bomb 413" if answer.startswith(b"HTTP/1.1 413") else "bomb other"] += 1
        except OSError:
            counts["bomb cut"] += 1
        time.sleep(0.5)


def oversize_length(port, stop, counts):
    while not stop.is_set():
        try:
            with connect(port) as s:
                s.sendall(b"POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n")
                s.settimeout(5)
                answer = s.recv(64)
            counts["length 413" if answer.startswith(b"HTTP/1.1 413") else "length other"] += 1
        except OSError:
            counts["length cut"] += 1
        time.sleep(0.5)


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def start_server(binary):
    child = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", child.stdout.readline())
    if not m:
        child.kill()
        sys.exit("server_soak: describe_server printed no address")
    return child, int(m.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", help="describe_server binary to start (else --port and --pid)")
    parser.add_argument("--port", type=int)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--image", required=True)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--good", type=int, default=4, help="good clients")
    parser.add_argument("--slow", type=int, default=16, help="slow-header sockets")
    parser.add_argument("--idle", type=int, default=300, help="idle sockets")
    parser.add_argument("--bombs", type=int, default=2, help="chunked upload bombs at a time")
    args = parser.parse_args()
    child = None
    if args.server:
        child, args.port = start_server(args.server)
        args.pid = child.pid
    elif not (args.port and args.pid):
        sys.exit("server_soak: give --server BINARY, or --port and --pid")
    image = open(args.image, "rb").read()
    stop = threading.Event()
    latencies, errors = [], []
    counts = {k: 0 for k in ["slow cut", "idle refused", "idle closed", "bomb 413", "bomb other", "bomb cut",
                             "length 413", "length other", "length cut"]}
    threads = [threading.Thread(target=good_client, args=(args.port, image, stop, latencies, errors))
               for _ in range(args.good)]
    threads += [threading.Thread(target=slow_headers, args=(args.port, stop, counts)) for _ in range(args.slow)]
    threads += [threading.Thread(target=idle_sockets, args=(args.port, stop, args.idle, counts))]
    threads += [threading.Thread(target=chunked_bomb, args=(args.port, stop, counts)) for _ in range(args.bombs)]
    threads += [threading.Thread(target=oversize_length, args=(args.port, stop, counts))]
    for t in threads:
        t.daemon = True
        t.start()
    time.sleep(args.minutes * 60)
    stop.set()
    rss = peak_rss_mb(args.pid)
    stop_seconds = float("nan")
    if child:
        start = time.monotonic()
        child.terminate()
        child.wait(timeout=30)
        stop_seconds = time.monotonic() - start
    print(f"good clients: {len(latencies)} answers, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {len(errors)} errors"
          + (f" (first: {errors[0]})" if errors else ""))
    print("hostile: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"server peak RSS (VmHWM): {rss:.0f} MB" + (f"; SIGTERM to exit: {stop_seconds:.2f} s" if child else ""))


if __name__ == "__main__":
    main()
