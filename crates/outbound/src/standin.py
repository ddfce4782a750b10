"""A stand-in for a Qiniu or OSS bucket, for tests of soundshelf's signed HEAD.

It answers HEAD on an object only when the request is signed as the vendor requires,
checked by this file's own implementation of the vendor's algorithm (Python's hmac and
hashlib, not the server's code). Before it listens it checks that implementation against
the vendors' published vectors (the ones the server's signers are tested with), so a
stand-in that accepted anything could not start.

Arguments: the vendor (qiniu, oss-v1 or oss-v4) and a JSON object:
  access_key, secret, bucket, region (OSS), objects {key: size}, slow {key: seconds},
  delay (seconds every HEAD takes).
It prints its port on the first line, then serves 127.0.0.1 until killed. An unsigned
GET /_stats answers {"heads", "rejected", "max_in_flight", "reasons"}.
"""

import base64
import calendar
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote


class Refused(Exception):
    pass


def require(condition, reason):
    if not condition:
        raise Refused(reason)


def same(a, b):
    return hmac.compare_digest(a.encode(), b.encode())


def split_target(target):
    path, _, query = target.partition("?")
    return path, query


def qiniu_check(url, ak, sk, now):
    """A private download URL: url?...&e=<deadline>&token=<ak>:<b64url(HMAC-SHA1(sk, url?...&e=<deadline>))>."""
    signed, sep, token = url.rpartition("&token=")
    require(sep, "no token")
    require("&e=" in signed or "?e=" in signed, "no deadline")
    deadline = signed.rsplit("e=", 1)[1]
    require(deadline.isdigit(), "bad deadline")
    require(int(deadline) >= now, "expired")
    digest = hmac.new(sk.encode(), signed.encode(), hashlib.sha1).digest()
    require(same(token, ak + ":" + base64.urlsafe_b64encode(digest).decode()), "bad token")


V1_SUBRESOURCES = {
    "acl", "uploads", "uploadId", "partNumber", "versionId", "security-token",
    "x-oss-process", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition",
    "response-content-encoding",
}


def oss_v1_check(method, target, bucket, ak, sk, now):
    path, query = split_target(target)
    params = dict(parse_qsl(query, keep_blank_values=True))
    require(params.get("OSSAccessKeyId") == ak, "unknown access key")
    expires = params.get("Expires", "")
    require(expires.isdigit(), "no Expires")
    require(int(expires) >= now, "expired")
    resource = "/%s/%s" % (bucket, unquote(path[1:]))
    subs = sorted((k, v) for k, v in params.items() if k in V1_SUBRESOURCES)
    if subs:
        resource += "?" + "&".join(k + ("=" + v if v else "") for k, v in subs)
    to_sign = "%s\n\n\n%s\n%s" % (method, expires, resource)
    digest = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha1).digest()
    require(same(params.get("Signature", ""), base64.b64encode(digest).decode()), "bad signature")


def enc(s):
    return quote(s, safe="-_.~")


def oss_v4_check(method, target, headers, bucket, region, ak, sk, now):
    path, query = split_target(target)
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    require(params.get("x-oss-signature-version") == "OSS4-HMAC-SHA256", "not V4")
    stamp = params.get("x-oss-date", "")
    try:
        signed_at = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Refused("bad x-oss-date")
    expires = params.get("x-oss-expires", "")
    require(expires.isdigit(), "no x-oss-expires")
    require(signed_at - 900 <= now <= signed_at + int(expires), "expired or not yet valid")
    date = stamp[:8]
    scope = "%s/%s/oss/aliyun_v4_request" % (date, region)
    require(params.get("x-oss-credential") == "%s/%s" % (ak, scope), "bad credential")
    additional = [h for h in params.get("x-oss-additional-headers", "").split(";") if h]
    lowered = {}
    for name, value in headers:
        lowered.setdefault(name.lower(), []).append(value.strip())
    signed_headers = sorted(
        (n, ",".join(v)) for n, v in lowered.items()
        if n.startswith("x-oss-") or n in ("content-type", "content-md5") or n in additional
    )
    canonical_query = "&".join(
        k + ("=" + v if v else "")
        for k, v in sorted((enc(k), enc(v)) for k, v in pairs if k != "x-oss-signature")
    )
    canonical_request = "\n".join([
        method,
        quote("/%s/%s" % (bucket, unquote(path[1:])), safe="-_.~/"),
        canonical_query,
        "".join("%s:%s\n" % h for h in signed_headers),
        ";".join(additional),
        "UNSIGNED-PAYLOAD",
    ])
    to_sign = "OSS4-HMAC-SHA256\n%s\n%s\n%s" % (
        stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    key = ("aliyun_v4" + sk).encode()
    for part in (date, region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    require(same(params.get("x-oss-signature", ""), expected), "bad signature")


def refuses(check, *args):
    try:
        check(*args)
        return False
    except Refused:
        return True


def self_check():
    """The vendors' vectors: each must pass, and fail once a byte changes."""
    q = ("http://www.qiniu.com/?go=1&e=1234571490&token="
         "abcdefghklmnopq:KjQtlGAkEOhSwtFjJfYtYa2-reE=")
    qiniu_check(q, "abcdefghklmnopq", "1234567890", 1234571000)
    assert refuses(qiniu_check, q.replace("go=1", "go=2"), "abcdefghklmnopq", "1234567890", 1234571000)
    assert refuses(qiniu_check, q, "abcdefghklmnopq", "1234567890", 1234571491)
    v1 = ("/key?Expires=1699807420&OSSAccessKeyId=ak"
          "&Signature=dcLTea%2BYh9ApirQ8o8dOPqtvJXQ%3D&versionId=versionId")
    oss_v1_check("GET", v1, "bucket", "ak", "sk", 1699807000)
    assert refuses(oss_v1_check, "HEAD", v1, "bucket", "ak", "sk", 1699807000)
    assert refuses(oss_v1_check, "GET", v1, "bucket", "ak", "sk", 1699807421)
    v4 = ("/key?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20231217T025437Z"
          "&x-oss-expires=599&x-oss-credential=ak%2F20231217%2Fcn-hangzhou%2Foss%2Faliyun_v4_request"
          "&x-oss-signature=b0aa05e94990a1991cab30e3f47cfa1aee28ec5c03994bdb515108831311f89a")
    oss_v4_check("GET", v4, [], "bucket", "cn-hangzhou", "ak", "sk", 1702781700)
    assert refuses(oss_v4_check, "HEAD", v4, [], "bucket", "cn-hangzhou", "ak", "sk", 1702781700)
    assert refuses(oss_v4_check, "GET", v4, [("x-oss-extra", "1")], "bucket", "cn-hangzhou", "ak", "sk", 1702781700)
    assert refuses(oss_v4_check, "GET", v4, [], "bucket", "cn-hangzhou", "ak", "sk", 1702782300)


def main():
    vendor, config = sys.argv[1], json.loads(sys.argv[2])
    self_check()
    objects, slow = config.get("objects", {}), config.get("slow", {})
    delay = config.get("delay", 0)
    lock = threading.Lock()
    stats = {"heads": 0, "rejected": 0, "max_in_flight": 0, "reasons": []}
    in_flight = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, length=0, body=b""):
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.answer(200, len(body), body)
            else:
                self.answer(405)

        def do_HEAD(self):
            with lock:
                stats["heads"] += 1
                in_flight[0] += 1
                stats["max_in_flight"] = max(stats["max_in_flight"], in_flight[0])
            try:
                status, length = self.decide()
            finally:
                # Out of flight before the client can see the answer, so that its next
                # request is never counted alongside this one.
                with lock:
                    in_flight[0] -= 1
            self.answer(status, length)

        def decide(self):
            key = unquote(split_target(self.path)[0][1:])
            time.sleep(delay + slow.get(key, 0))
            now = int(time.time())
            try:
                if vendor == "qiniu":
                    url = "http://127.0.0.1:%d%s" % (self.server.server_port, self.path)
                    qiniu_check(url, config["access_key"], config["secret"], now)
                elif vendor == "oss-v1":
                    oss_v1_check("HEAD", self.path, config["bucket"],
                                 config["access_key"], config["secret"], now)
                else:
                    oss_v4_check("HEAD", self.path, list(self.headers.items()),
                                 config["bucket"], config["region"],
                                 config["access_key"], config["secret"], now)
            except Refused as e:
                with lock:
                    stats["rejected"] += 1
                    stats["reasons"].append("%s: %s" % (key, e))
                return 403, 0
            if key in objects:
                return 200, objects[key]
            return 404, 0

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
