/*
 * The NIK (Nomor Induk Kependudukan), the 16-digit population number on the
 * e-KTP (UU 24/2013 on population administration; Permendagri 72/2019 on
 * the area codes), and the birth dates it must agree with:
 *
 *	PP RR DD ddmmyy SSSS
 *	|  |  |  |      serial within the district and birth date, not 0000
 *	|  |  |  date of birth; the day is +40 for women
 *	|  |  district (kecamatan), ≥ 01
 *	|  regency or city (kabupaten/kota), ≥ 01
 *	province
 *
 * Stateless, no I/O. Details name the rule broken and never quote the NIK.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ra/extern.h"

/*
 * The province codes of Kepmendagri 100.1.1-6117/2022, the 38 provinces
 * after the 2022 Papua splits: 93 Papua Selatan, 94 Papua Tengah,
 * 95 Papua Pegunungan, 96 Papua Barat Daya (91 Papua, 92 Papua Barat).
 * NIKs issued before a split keep their old code, which stays valid.
 */
static const int ra_provinces[] = {
	11, 12, 13, 14, 15, 16, 17, 18, 19,	/* Sumatra */
	21,					/* Kepulauan Riau */
	31, 32, 33, 34, 35, 36,			/* Java */
	51, 52, 53,				/* Bali, Nusa Tenggara */
	61, 62, 63, 64, 65,			/* Kalimantan */
	71, 72, 73, 74, 75, 76,			/* Sulawesi */
	81, 82,					/* Maluku */
	91, 92, 93, 94, 95, 96,			/* Papua */
};

int
ra_province_valid(int code)
{
	size_t i;

	for (i = 0; i < sizeof(ra_provinces) / sizeof(ra_provinces[0]); i++)
		if (ra_provinces[i] == code)
			return 1;
	return 0;
}

static int
ra_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
ra_days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && ra_leap(y) ? 29 : days[m - 1];
}

/* Two digits at s as a number, or -1. */
static int
ra_two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int
ra_nik_parse(const char *nik, struct ra_nik *n, char *detail, size_t detaillen)
{
	size_t i, len = strlen(nik);
	int day, feb;

	memset(n, 0, sizeof(*n));
	if (len != RA_NIK_LEN) {
		snprintf(detail, detaillen, "nik: must be exactly %d digits",
		    RA_NIK_LEN);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (nik[i] < '0' || nik[i] > '9') {
			snprintf(detail, detaillen, "nik: must be exactly %d "
			    "digits (0-9 only)", RA_NIK_LEN);
			return -1;
		}
	}
	n->province = ra_two(nik);
	n->regency = ra_two(nik + 2);
	n->district = ra_two(nik + 4);
	day = ra_two(nik + 6);
	n->month = ra_two(nik + 8);
	n->yy = ra_two(nik + 10);
	n->serial = ra_two(nik + 12) * 100 + ra_two(nik + 14);
	if (!ra_province_valid(n->province)) {
		snprintf(detail, detaillen, "nik: digits 1-2 are not the code "
		    "of an Indonesian province");
		goto bad;
	}
	if (n->regency == 0) {
		snprintf(detail, detaillen, "nik: digits 3-4 (regency or city) "
		    "must be 01 or more");
		goto bad;
	}
	if (n->district == 0) {
		snprintf(detail, detaillen, "nik: digits 5-6 (district) must be "
		    "01 or more");
		goto bad;
	}
	if (n->month < 1 || n->month > 12) {
		snprintf(detail, detaillen, "nik: digits 9-10 (month of birth) "
		    "must be 01 to 12");
		goto bad;
	}
	n->sex = day > 40 ? 'F' : 'M';
	n->day = day > 40 ? day - 40 : day;
	/*
	 * The century is not in the NIK: a 29 February is possible when some
	 * century makes the year leap, i.e. when yy is divisible by 4
	 * (yy = 00: 2000 is leap, 1900 is not; the birth date settles it).
	 */
	feb = n->yy % 4 == 0 ? 29 : 28;
	if (n->day < 1 || n->day > (n->month == 2 ? feb :
	    ra_days_in_month(2001, n->month))) {
		snprintf(detail, detaillen, "nik: digits 7-8 (day of birth, "
		    "+40 for women) are not a day of the month in digits 9-10");
		goto bad;
	}
	if (n->serial == 0) {
		snprintf(detail, detaillen, "nik: digits 13-16 (serial) must "
		    "not be 0000");
		goto bad;
	}
	return 0;
bad:
	memset(n, 0, sizeof(*n));
	return -1;
}

int
ra_date_parse(const char *s, struct ra_date *d)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	d->year = ra_two(s) * 100 + ra_two(s + 2);
	d->month = ra_two(s + 5);
	d->day = ra_two(s + 8);
	if (d->year < 1900 || d->day < 1 ||
	    d->day > ra_days_in_month(d->year, d->month)) {
		memset(d, 0, sizeof(*d));
		return -1;
	}
	return 0;
}

int
ra_nik_check(const char *nik, const struct ra_date *birth, char sex,
    char *detail, size_t detaillen)
{
	struct ra_nik n;

	if (ra_nik_parse(nik, &n, detail, detaillen) == -1)
		return RA_NIK_MALFORMED;
	if (n.yy != birth->year % 100 || n.month != birth->month ||
	    n.day != birth->day) {
		snprintf(detail, detaillen, "nik: digits 7-12 (ddmmyy, day +40 "
		    "for women) do not match birth_date");
		return RA_NIK_MISMATCH;
	}
	if (n.sex != sex) {
		snprintf(detail, detaillen, "nik: digits 7-8 say %s (day %s40) "
		    "but sex is %c", n.sex == 'F' ? "female" : "male",
		    n.sex == 'F' ? "+" : "without ", sex);
		return RA_NIK_MISMATCH;
	}
	return RA_NIK_OK;
}

int
ra_age_years(const struct ra_date *birth, const struct ra_date *today)
{
	int age = today->year - birth->year;

	/* Born 29 February: a year older on 1 March in common years. */
	if (today->month < birth->month || (today->month == birth->month &&
	    today->day < birth->day))
		age--;
	return age;
}

int
ra_date_today(struct ra_date *d)
{
	struct tm tm;
	time_t t = time(NULL) + RA_WIB_OFFSET_S;

	memset(d, 0, sizeof(*d));
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	d->year = tm.tm_year + 1900;
	d->month = tm.tm_mon + 1;
	d->day = tm.tm_mday;
	return 0;
}
