/*
 * ra/mail.c: the header check (CR, LF and other controls refused in To and
 * Subject), the RFC 5322 message (fields, CRLF line ends), the SMTP
 * configuration checks, and a To with CR/LF never reaching an SMTP server:
 * the test listens on a loopback port of its own and no connection comes.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ra/extern.h"

static void
test_header_ok(void **state)
{
	(void)state;
	assert_int_equal(ra_mail_header_ok("Verify your email address"), 0);
	assert_int_equal(ra_mail_header_ok("alice@example.com"), 0);
	assert_int_equal(ra_mail_header_ok(""), -1);
	assert_int_equal(ra_mail_header_ok(NULL), -1);
	assert_int_equal(ra_mail_header_ok("a@b.c\r\nBcc: eve@evil.test"), -1);
	assert_int_equal(ra_mail_header_ok("a@b.c\nBcc: eve@evil.test"), -1);
	assert_int_equal(ra_mail_header_ok("a@b.c\rBcc: eve@evil.test"), -1);
	assert_int_equal(ra_mail_header_ok("tab\there"), -1);
	assert_int_equal(ra_mail_header_ok("del\x7f"), -1);
	assert_int_equal(ra_mail_header_ok("caf\xc3\xa9"), -1);
}

static void
test_format(void **state)
{
	char *msg = NULL;

	(void)state;
	/* 2024-01-02 03:04:05 UTC. */
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example", "bob@example.com",
	    "Your one-time code", "Line one\nline two\r\n.dot\rend", 1704164645),
	    0);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "Date: Tue, 02 Jan 2024 03:04:05 +0000\r\n"));
	assert_non_null(strstr(msg, "\r\nFrom: <ra@pki.example>\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: <bob@example.com>\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: Your one-time code\r\n"));
	assert_non_null(strstr(msg, "@pki.example>\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <"));
	assert_non_null(strstr(msg, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg,
	    "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(msg, "\r\nContent-Transfer-Encoding: 8bit\r\n"));
	assert_null(strstr(msg, "X-PKI-Mail-Sink"));
	/* Every line ends in CRLF; the body follows one empty line. */
	assert_non_null(strstr(msg,
	    "\r\n\r\nLine one\r\nline two\r\n.dot\r\nend\r\n"));
	assert_int_equal(msg[strlen(msg) - 1], '\n');
	free(msg);
	/* The file sink's message: no From, marked not delivered. */
	assert_int_equal(ra_mail_format(&msg, NULL, "bob@example.com", "S",
	    "b", 0), 0);
	assert_null(strstr(msg, "From:"));
	assert_non_null(strstr(msg,
	    "\r\nX-PKI-Mail-Sink: local file sink, not delivered\r\n\r\nb\r\n"));
	free(msg);
}

static void
test_format_refused(void **state)
{
	char *msg = (char *)1;

	(void)state;
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example",
	    "bob@example.com\r\nBcc: eve@evil.test", "S", "b", 0), -1);
	assert_null(msg);
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example",
	    "bob@example.com", "S\r\nBcc: eve@evil.test", "b", 0), -1);
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example",
	    "bob@example.com", "S\n", "b", 0), -1);
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example",
	    "<bob@example.com>", "S", "b", 0), -1);
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example",
	    "bob@example.com, eve@evil.test", "S", "b", 0), -1);
	assert_int_equal(ra_mail_format(&msg, "ra@pki.example", "", "S", "b",
	    0), -1);
	assert_int_equal(ra_mail_format(&msg, "ra\r\n@pki.example",
	    "bob@example.com", "S", "b", 0), -1);
	assert_null(msg);
}

static void
smtp_refused(const char *url, const char *from, const char *user,
    const char *pwfile, int starttls, const char *want)
{
	struct ra_smtp_conf c;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.url = url;
	c.from = from;
	c.user = user;
	c.password_file = pwfile;
	c.starttls = starttls;
	err[0] = '\0';
	assert_null(ra_mailer_smtp(&c, err, sizeof(err)));
	if (strstr(err, want) == NULL)
		fail_msg("err \"%s\" lacks \"%s\"", err, want);
}

static void
test_smtp_conf(void **state)
{
	(void)state;
	smtp_refused(NULL, "ra@pki.example", NULL, NULL, 1, "smtp_url");
	smtp_refused("smtp://127.0.0.1:25", NULL, NULL, NULL, 1, "smtp_from");
	smtp_refused("http://127.0.0.1:25", "ra@pki.example", NULL, NULL, 1,
	    "smtp://");
	smtp_refused("smtp://127.0.0.1:25\r\n", "ra@pki.example", NULL, NULL, 1,
	    "smtp://");
	smtp_refused("smtp://127.0.0.1:25", "RA <ra@pki.example>", NULL, NULL,
	    1, "smtp_from");
	smtp_refused("smtp://127.0.0.1:25", "ra@pki.example", "ra", NULL, 1,
	    "together");
	smtp_refused("smtp://127.0.0.1:25", "ra@pki.example", "ra",
	    "/nonexistent/pw", 0, "in clear");
	smtp_refused("smtp://127.0.0.1:25", "ra@pki.example", "ra",
	    "/nonexistent/pw", 1, "smtp_password_file: /nonexistent/pw");
}

/*
 * An SMTP mailer pointing at a socket of ours that listens but never
 * accepts: a To or Subject with CR/LF is refused before any connection, so
 * nothing waits in the listen queue afterwards.
 */
static void
test_smtp_injection_not_sent(void **state)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct ra_smtp_conf c;
	struct ra_mailer *m;
	char url[64], err[256];
	int lfd, cfd;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(lfd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", ntohs(sin.sin_port));
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.from = "ra@pki.example";
	m = ra_mailer_smtp(&c, err, sizeof(err));
	if (m == NULL)
		fail_msg("ra_mailer_smtp: %s", err);
	assert_int_equal(ra_mail_send(m, "bob@example.com\r\nBcc: "
	    "eve@evil.test", "Hello", "token=secret\r\n"), -1);
	assert_int_equal(ra_mail_send(m, "bob@example.com\n", "Hello",
	    "b"), -1);
	assert_int_equal(ra_mail_send(m, "bob@example.com",
	    "Hello\r\nBcc: eve@evil.test", "b"), -1);
	/* No connection was ever made to the server. */
	cfd = accept(lfd, NULL, NULL);
	assert_int_equal(cfd, -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	ra_mailer_free(m);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_ok),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_refused),
		cmocka_unit_test(test_smtp_conf),
		cmocka_unit_test(test_smtp_injection_not_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
