"""Creates a blob container in Azurite: `azurite-container.py URL NAME`.

Azurite accepts only signed requests; this signs one Create Container request with the
emulator's well-known development account (Shared Key authorisation, as Azure documents it).
"""

import base64
import email.utils
import hashlib
import hmac
import sys
import urllib.error
import urllib.request

ACCOUNT = "devstoreaccount1"
# The development account's key, published in Azurite's and Azure's documentation.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VERSION = "2021-08-06"


def main(base, container):
    date = email.utils.formatdate(usegmt=True)
    # Verb, then eleven standard headers (all empty here), then the x-ms headers and resource.
    string_to_sign = "\n".join(
        ["PUT"] + [""] * 11
        + [f"x-ms-date:{date}", f"x-ms-version:{VERSION}",
           f"/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"]
    )
    signature = base64.b64encode(
        hmac.new(base64.b64decode(KEY), string_to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    request = urllib.request.Request(
        f"{base}/{ACCOUNT}/{container}?restype=container",
        method="PUT",
        headers={
            "x-ms-date": date,
            "x-ms-version": VERSION,
            "Authorization": f"SharedKey {ACCOUNT}:{signature}",
            "Content-Length": "0",
        },
    )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        if error.code != 409:  # 409: it exists already
            sys.exit(f"creating container {container}: {error.code} {error.read().decode()}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
