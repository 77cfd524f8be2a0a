#!/usr/bin/env python3
"""A UDP/TCP-less counting relay: forwards datagrams to an upstream and counts the queries.
Used by compare.sh to count the upstream queries a cold-cache resolution takes.
Usage: relay.py LISTEN_IP LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT COUNT_FILE"""
import os, socket, sys, threading

lip, lport, uip, uport, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((lip, lport))
count = 0
lock = threading.Lock()

def handle(data, peer):
    global count
    with lock:
        # Removing the file restarts the count (compare.sh does, once the server is up).
        if not os.path.exists(count_file):
            count = 0
        count += 1
        open(count_file, "w").write(str(count))
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.settimeout(3)
    try:
        up.sendto(data, (uip, uport))
        reply, _ = up.recvfrom(65535)
        sock.sendto(reply, peer)
    except OSError:
        pass
    finally:
        up.close()

while True:
    data, peer = sock.recvfrom(65535)
    threading.Thread(target=handle, args=(data, peer), daemon=True).start()
