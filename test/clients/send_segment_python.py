"""Sends the messages of knit serve's client test with segment-analytics-python.

Usage: python send_segment_python.py <host> <writeKey> <prefix>
"""
import sys

import segment.analytics as analytics

host, write_key, prefix = sys.argv[1:4]
analytics.write_key = write_key
analytics.host = host
analytics.sync_mode = True
failed = []
analytics.on_error = lambda err, batch: failed.append(err)

anon = f"{prefix}-anon"
analytics.page(anonymous_id=anon, name="Decaf beans", message_id=f"{prefix}-1", properties={"url": "https://shop.example/decaf"})
analytics.track(anonymous_id=anon, event="Product Viewed", message_id=f"{prefix}-2", properties={"sku": "D-1", "price": 12.5})
analytics.identify(anonymous_id=anon, user_id=f"{prefix}-user", message_id=f"{prefix}-3", traits={"email": f"{prefix}@example.com", "loyaltyId": f"{prefix}-L"})
analytics.screen(user_id=f"{prefix}-user", name="Home", message_id=f"{prefix}-4")
analytics.group(user_id=f"{prefix}-user", group_id="g1", message_id=f"{prefix}-5", traits={"plan": "gold"})
analytics.alias(user_id=f"{prefix}-user", previous_id=f"{prefix}-old", message_id=f"{prefix}-6")
analytics.flush()
if failed:
    print("errors:", failed, file=sys.stderr)
    sys.exit(1)
print("sent")
