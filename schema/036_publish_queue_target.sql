-- 036_publish_queue_target: lib/publish.c looks up, for each row it
-- publishes, whether a newer row of the same directory entry and
-- attribute is already done (then the older one is skipped, not written
-- over the newer CRL) and retires the older pending rows of that target.
-- This index keeps those lookups off a scan of every CRL ever queued.
CREATE INDEX publish_queue_target ON publish_queue (dn, attribute, id);
