#!/usr/bin/env python3
"""A delaying relay for the network tests: `netns_delay.py TUN OUT_IF DELAY_MS`.

Creates the TUN device TUN in the current network namespace; every IP packet routed into it is
held DELAY_MS milliseconds, then sent out of the interface OUT_IF through a raw socket bound to
it (the kernel routes it there by a route of lower priority than the one into TUN). The kernel
here has no `tc netem`: this adds the delay instead. Prints `{"relay": "TUN"}` once ready.
"""

import fcntl
import heapq
import json
import os
import socket
import struct
import sys
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000

name, out_if, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000.0
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
os.system(f"ip link set {name} up")
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, out_if.encode())

held = []  # (due, seq, packet)
cond = threading.Condition()


def send_when_due():
    while True:
        with cond:
            while not held or held[0][0] > time.monotonic():
                cond.wait(None if not held else held[0][0] - time.monotonic())
            _, _, packet = heapq.heappop(held)
        if len(packet) >= 20 and packet[0] >> 4 == 4:
            try:
                raw.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
            except OSError:
                pass  # no route right now: a lost packet, as on a real link


threading.Thread(target=send_when_due, daemon=True).start()
print(json.dumps({"relay": name}), flush=True)
seq = 0
while True:
    packet = os.read(tun, 65535)
    seq += 1
    with cond:
        heapq.heappush(held, (time.monotonic() + delay, seq, packet))
        cond.notify()
