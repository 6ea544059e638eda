/*
 * libFuzzer harness for the officers' review parsers (ra/reviewreq.c): the
 * list query strings (applications, certificates, companies, revocation
 * requests) and the
 * decision, reason (cancel, reorder), company deactivation and revocation
 * bodies. The first byte picks the parser. Invariants: a parsed query has
 * page and per_page in range, a search text within its bound, and only the
 * filters its list has; a parsed decision, reason or deactivation body has
 * a reason of 1 to RA_REVIEW_REASON_MAX bytes; a parsed revocation names a
 * reason code officers may use (never certificateHold or removeFromCRL)
 * whose name maps back to it; every refusal leaves a detail.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_list_query lq;
	struct ra_decision_req dr;
	struct ra_revoke_req rr;
	struct ra_deactivation_req da;
	char detail[256], reason[RA_REVIEW_REASON_MAX + 1], *qs;
	int rc, which;

	if (size < 1)
		return 0;
	detail[0] = '\0';
	switch (data[0] % 4) {
	case 0:
	case 1:
		if ((qs = malloc(size)) == NULL)
			return 0;
		memcpy(qs, data + 1, size - 1);
		qs[size - 1] = '\0';
		/*
		 * Applications or revocation requests (bit 3 of the first
		 * byte); certificates or (bit 2) companies.
		 */
		which = data[0] % 4 == 0 ? (data[0] & 8 ? RA_LIST_REVREQS :
		    RA_LIST_APPLICATIONS) : data[0] & 4 ? RA_LIST_COMPANIES :
		    RA_LIST_CERTIFICATES;
		rc = ra_parse_list_query(qs, which, &lq, detail,
		    sizeof(detail));
		free(qs);
		if (rc == 0 && (lq.page < 1 || lq.page > RA_REVIEW_PAGE_MAX ||
		    lq.per_page < 1 || lq.per_page > RA_REVIEW_PER_PAGE_MAX ||
		    strlen(lq.q) > RA_REVIEW_Q_MAX ||
		    (which != RA_LIST_APPLICATIONS && (lq.kind[0] != '\0' ||
		    lq.profile[0] != '\0' || lq.awaiting_mine)) ||
		    (which == RA_LIST_CERTIFICATES && lq.status[0] != '\0')))
			__builtin_trap();
		break;
	case 2:
		rc = ra_parse_decision(data + 1, size - 1, &dr, detail,
		    sizeof(detail));
		if (rc == 0 && (strlen(dr.reason) == 0 ||
		    strlen(dr.reason) > RA_REVIEW_REASON_MAX))
			__builtin_trap();
		if (rc == -1 && detail[0] == '\0')
			__builtin_trap();
		/* The same bytes as a cancellation's or new order's body. */
		detail[0] = '\0';
		rc = ra_parse_reason(data + 1, size - 1, reason, detail,
		    sizeof(detail));
		if (rc == 0 && (strlen(reason) == 0 ||
		    strlen(reason) > RA_REVIEW_REASON_MAX))
			__builtin_trap();
		if (rc == -1 && detail[0] == '\0')
			__builtin_trap();
		/* And as a company's deactivation. */
		detail[0] = '\0';
		rc = ra_parse_deactivation(data + 1, size - 1, &da, detail,
		    sizeof(detail));
		if (rc == 0 && (strlen(da.reason) == 0 ||
		    strlen(da.reason) > RA_REVIEW_REASON_MAX ||
		    (da.revoke_certificates != 0 &&
		    da.revoke_certificates != 1)))
			__builtin_trap();
		break;
	default:
		rc = ra_parse_revoke(data + 1, size - 1, &rr, detail,
		    sizeof(detail));
		if (rc == 0 && (rr.reason < 0 || rr.reason == 6 ||
		    rr.reason == 8 || rr.reason > 10 ||
		    ra_revocation_reason_code(rr.reason_name) != rr.reason ||
		    strlen(rr.comment) == 0))
			__builtin_trap();
		break;
	}
	if (rc == -1 && detail[0] == '\0')
		__builtin_trap();
	return 0;
}
