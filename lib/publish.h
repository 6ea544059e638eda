/*
 * The publication queue (table publish_queue): what goes to the LDAP
 * directory is queued in the transaction of the change that produced it and
 * published afterwards, with retries and back-off, so a directory outage
 * never blocks issuance or revocation.
 */
#ifndef PKI_PUBLISH_H
#define PKI_PUBLISH_H

#include <stddef.h>
#include <openssl/x509.h>

struct db;
struct ldappub_conf;

/*
 * The directory entry of a CA: cn=<its subject CN>,<base>, the CN in UTF-8
 * escaped as RFC 4514 asks. 0, or -1 when the certificate has no CN, one
 * with a NUL or control character, or dn is too small.
 */
int	publish_ca_dn(const char *base, X509 *ca_cert, char *dn, size_t dnlen);

/*
 * Queues der for attribute attr ("cACertificate;binary",
 * "certificateRevocationList;binary", ...) of the entry dn, with its audit
 * event by actor; in the caller's transaction. 0 or -1.
 */
int	publish_queue_add(struct db *, const char *actor, const char *dn,
	    const char *attr, const unsigned char *der, size_t len);

/*
 * Publishes the rows that are due, one publisher at a time across
 * processes (a transaction-level advisory lock: with a budget_s it is only
 * tried, and the round is left to its holder; without one it is waited
 * for), recording each success or failure (next attempt after
 * 10 s, doubling, at most an hour) with an audit event. Of the pending rows
 * of one entry and attribute only the newest is published; it retires the
 * older ones, whose DER is never read. A done CRL row keeps no DER
 * (schema/046). lc NULL or without a URI counts as a failure. Works in
 * batches (one transaction and one directory connection each) until
 * nothing is due, a batch has a failure, or budget_s seconds have passed
 * (0: no limit; checked before each row, the first excepted). A failure of
 * the directory itself (no connection or bind, a time-out: ldappub.h)
 * ends the batch at that row, leaving the rows after it untouched for the
 * next round, so an unreachable directory costs one attempt's time-outs
 * per call, not one per row. *more_due (may be NULL) then says whether due
 * rows are left for an immediate next call (a full batch, or the budget
 * spent, without a failure). Returns the number of rows still pending
 * (due or waiting for a retry), or -1.
 */
int	publish_run(struct db *, const struct ldappub_conf *lc, const char *actor,
	    double budget_s, int *more_due);

#endif
