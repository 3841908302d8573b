package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPagesNeedASession(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, path := range []string{"/console/", "/console/customers", "/console/runs", "/console/customers/x", "/console/no-such-page"} {
		resp, _ := c.get(path)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin?next=") {
			t.Errorf("GET %s without a session: %d %q, want a redirect to sign-in", path, resp.StatusCode, loc)
		}
	}
	// A POST without a session is refused, not redirected.
	if resp, _ := c.post("/console/runs", url.Values{"csrf": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /console/runs without a session: %d, want 401", resp.StatusCode)
	}
	// The sign-in page and the assets are public.
	resp, body := c.get("/console/static/console.css")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ":focus-visible") {
		t.Errorf("console.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := c.get("/console/static/"); resp.StatusCode == 200 {
		t.Errorf("the static folder lists its files")
	}
	body = c.page("/console/signin")
	mustContain(t, "sign-in page", body, `<label for="token">`, `type="password"`, `name="csrf"`)
}

func TestSignInAndOut(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	// The sign-in keeps where the person was going, but only inside the console.
	resp, _ := c.get("/console/runs")
	next := resp.Header.Get("Location")
	body := c.page(next)
	resp, _ = c.post("/console/signin", url.Values{"csrf": {c.csrf(body)}, "token": {adminToken}, "next": {"/console/runs"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/runs" {
		t.Fatalf("sign-in: %d → %q, want 303 → /console/runs", resp.StatusCode, resp.Header.Get("Location"))
	}
	home := c.page("/console/")
	mustContain(t, "home page", home, "admin", `action="/console/signout"`, `aria-current="page"`)
	// Sign-out needs the CSRF token, then ends the session.
	if resp, _ := c.post("/console/signout", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without a CSRF token: %d, want 403", resp.StatusCode)
	}
	c.page("/console/") // still signed in
	if resp, _ := c.post("/console/signout", url.Values{"csrf": {c.csrf(home)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/console/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out GET /console/: %d, want a redirect to sign-in", resp.StatusCode)
	}
	for _, bad := range []string{"https://evil.example/", "//evil.example/", "/v1/admin/runs", `/console/\evil`} {
		if got := safeNext(bad); got != "/console/" {
			t.Errorf("safeNext(%q) = %q", bad, got)
		}
	}
}

func TestBadTokenRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, tok := range []string{"", "wrong", readToken + "x", strings.ToUpper(adminToken)} {
		resp, body := c.signIn(tok)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("sign-in with %q: %d, want 401", tok, resp.StatusCode)
		}
		mustContain(t, "refused sign-in", body, "That token is not valid")
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie && ck.Value != "" {
				t.Errorf("a refused sign-in set a session cookie")
			}
		}
	}
	if resp, _ := c.get("/console/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after refused sign-ins GET /console/: %d, want a redirect", resp.StatusCode)
	}
	// Guessing is limited per address: 10 failures a minute (4 so far),
	// then 429 even for the right token.
	for i := range 6 {
		if resp, _ := c.signIn("guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("failure %d: %d, want 401", 5+i, resp.StatusCode)
		}
	}
	if resp, _ := c.signIn(adminToken); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("sign-in after 10 failures: %d, want 429", resp.StatusCode)
	}
	f.con.now = func() time.Time { return coffeeNow.Add(2 * time.Minute) }
	if resp, _ := c.signIn(adminToken); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in a minute later: %d, want 303", resp.StatusCode)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	check := func(resp *http.Response, wantSecure bool) {
		t.Helper()
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == sessionCookie {
				ck = k
			}
		}
		if ck == nil {
			t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console/" || ck.Secure != wantSecure || len(ck.Value) < 40 {
			t.Errorf("session cookie %q: HttpOnly %v SameSite %v Path %q Secure %v (want %v)", resp.Header["Set-Cookie"], ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, wantSecure)
		}
		if ck.MaxAge != int((12 * time.Hour).Seconds()) {
			t.Errorf("session cookie Max-Age %d, want 12h", ck.MaxAge)
		}
	}
	resp, _ := c.signIn(readToken)
	check(resp, false)
	// Behind a TLS-terminating proxy the cookie is Secure.
	body := c.page("/console/signin")
	req, _ := http.NewRequest("POST", c.base+"/console/signin", strings.NewReader(url.Values{"csrf": {c.csrf(body)}, "token": {readToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, _ = c.do(req)
	check(resp, true)
	// Pages carry the security headers and are never cached.
	resp, _ = c.get("/console/")
	for h, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Content-Type-Options": "nosniff",
		"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s: %q, want %q", h, resp.Header.Get(h), want)
		}
	}
}

func TestSessionExpires(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	c.page("/console/")
	f.con.now = func() time.Time { return coffeeNow.Add(12*time.Hour + time.Second) }
	if resp, _ := c.get("/console/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET after the session expired: %d, want a redirect to sign-in", resp.StatusCode)
	}
}

func TestCSRFRefused(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(adminToken)
	home := c.page("/console/")
	token := c.csrf(home)
	// No token, a wrong token, another session's token.
	other := f.signedIn(adminToken)
	otherToken := other.csrf(other.page("/console/"))
	for name, form := range map[string]url.Values{"none": {}, "wrong": {"csrf": {"x" + token}}, "other session's": {"csrf": {otherToken}}} {
		if resp, _ := c.post("/console/runs", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /console/runs with %s CSRF token: %d, want 403", name, resp.StatusCode)
		}
	}
	// A same-token POST from another origin is refused too.
	req, _ := http.NewRequest("POST", c.base+"/console/signout", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := c.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d, want 403", resp.StatusCode)
	}
	// The sign-in form has its own token, tied to a cookie.
	fresh := f.client()
	if resp, _ := fresh.post("/console/signin", url.Values{"token": {adminToken}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without the form's CSRF token: %d, want 403", resp.StatusCode)
	}
	if f.srv.LastRun() != nil {
		t.Errorf("a refused POST started a run")
	}
}

func TestStatusMapping(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	resp, body := c.get("/console/no-such-page")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %d, want 404", resp.StatusCode)
	}
	mustContain(t, "404 page", body, "there is no such page", `<main id="main"`)
}
