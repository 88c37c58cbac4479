// Package browser drives a real headless Chromium (Debian's chromium
// package) from Go with chromedp, for end-to-end tests of what people see:
// the dashboard, the embed script and the badges, against the standalone
// server and against the Lambda binaries behind tools/localapi.
package browser
