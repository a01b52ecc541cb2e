/* Keeps the test-support library non-empty before any helper exists. */
typedef int fluxbot_testsupport_empty;
