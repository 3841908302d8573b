package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
)

// Sign-in turns a read or admin token into a server-side session: the
// browser holds only a random session ID in an HttpOnly, SameSite=Strict
// cookie (Secure when the request came over TLS), never the token. Each
// session has its own CSRF token, which every POST must echo in the form
// field "csrf". Sessions live in memory: restarting knit serve signs
// everybody out.

const (
	sessionCookie = "knit_session"
	// signinCookie carries the CSRF token of the sign-in form itself
	// (before there is a session), compared with the form's copy.
	signinCookie = "knit_signin"
	cookiePath   = "/console/"
	// maxForm bounds every console form body.
	maxForm = 64 << 10
	// Sign-in failures allowed per client address and minute: enough for
	// typos, too few to guess a token.
	maxFailures   = 10
	failurePeriod = time.Minute
)

type role int

const (
	roleRead role = iota + 1
	roleAdmin
)

type session struct {
	id      string
	csrf    string
	role    role
	token   string // the token's name (its environment variable), for logs
	expires time.Time
}

// Session is what templates see of the session.
type Session struct {
	Admin bool
	Role  string
	CSRF  string
}

func (s *session) view() *Session {
	v := &Session{Admin: s.role == roleAdmin, Role: "read-only", CSRF: s.csrf}
	if v.Admin {
		v.Role = "admin"
	}
	return v
}

type sessionKey struct{}

// sessionOf returns the request's session (nil on public routes).
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// isAdmin reports whether the request's session may change things.
func isAdmin(r *http.Request) bool {
	s := sessionOf(r)
	return s != nil && s.role == roleAdmin
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// guard checks a route's needs before its handler runs: a live session
// (else a redirect to sign-in), the role, and on POST the CSRF token.
func (c *Console) guard(w http.ResponseWriter, r *http.Request, p Page) error {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return &knit.Error{Code: "too_large", Message: "the form is too large or malformed", Err: err}
		}
		if !sameOrigin(r) {
			return &knit.Error{Code: "forbidden", Message: "the form was sent from another site"}
		}
	}
	if p.Public {
		return nil
	}
	// Pages hold customer data: never cached by the browser or a proxy.
	w.Header().Set("Cache-Control", "no-store")
	s := c.lookupSession(r)
	if s == nil {
		if r.Method != http.MethodGet {
			return knit.Errorf(knit.EUNAUTHORIZED, "your session has ended: sign in again")
		}
		http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return errHandled
	}
	*r = *r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
	if r.Method == http.MethodPost && !equalSecret(r.PostForm.Get("csrf"), s.csrf) {
		return &knit.Error{Code: "forbidden", Message: "the form's CSRF token is missing or wrong: reload the page and try again"}
	}
	if p.Admin && s.role != roleAdmin {
		return errForbidden
	}
	return nil
}

// sameOrigin refuses a POST whose Origin header names another host (a
// second line of defence behind SameSite cookies and CSRF tokens).
// Browsers that send no Origin are judged by the token alone.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (c *Console) lookupSession(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	if s == nil {
		return nil
	}
	if !c.now().Before(s.expires) {
		delete(c.sessions, s.id)
		return nil
	}
	return s
}

// authenticate compares the secret with every configured token in
// constant time and does not stop at the first match, so timing says
// nothing about which tokens exist. Write keys never sign in.
func (c *Console) authenticate(secret string) (name string, r role, ok bool) {
	for _, set := range []struct {
		keys map[string]string
		r    role
	}{{c.opt.ReadTokens, roleRead}, {c.opt.AdminTokens, roleAdmin}} {
		for n, key := range set.keys {
			if subtle.ConstantTimeCompare([]byte(secret), []byte(key)) == 1 {
				name, r, ok = n, set.r, true
			}
		}
	}
	return name, r, ok
}

func (c *Console) newSession(name string, r role) *session {
	now := c.now()
	s := &session{id: randomToken(), csrf: randomToken(), role: r, token: name, expires: now.Add(c.opt.SessionTTL)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, old := range c.sessions { // sweep: sign-ins are rare
		if !now.Before(old.expires) {
			delete(c.sessions, id)
		}
	}
	c.sessions[s.id] = s
	return s
}

// secure says whether cookies should be Secure: the request came over
// TLS, directly or through a proxy that says so. Trusting the proxy's
// header is safe here: it can only make the cookie stricter.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

type failureWindow struct {
	start time.Time
	n     int
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooManyFailures reports whether a client has used up its sign-in
// failures; fail counts one more.
func (c *Console) tooManyFailures(addr string, fail bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	f := c.failures[addr]
	if f == nil || now.Sub(f.start) >= failurePeriod {
		if !fail {
			return false
		}
		if len(c.failures) > 10000 { // bound the map under a flood of addresses
			clear(c.failures)
		}
		f = &failureWindow{start: now}
		c.failures[addr] = f
	}
	if fail {
		f.n++
	}
	return f.n >= maxFailures
}

func init() {
	register(Page{Pattern: "GET /console/signin", Handle: (*Console).signinForm, Public: true})
	register(Page{Pattern: "POST /console/signin", Handle: (*Console).signin, Public: true})
	register(Page{Pattern: "POST /console/signout", Handle: (*Console).signout})
	register(Page{Pattern: "GET /console/static/", Handle: (*Console).static, Public: true})
}

type signinView struct {
	CSRF, Next, Error string
	NoTokens          bool
}

func (c *Console) signinForm(w http.ResponseWriter, r *http.Request) error {
	return c.showSignin(w, r, http.StatusOK, "")
}

func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	tok := randomToken()
	setCookie(w, r, signinCookie, tok, 3600)
	w.Header().Set("Cache-Control", "no-store")
	return c.renderStatus(w, r, status, "signin.html", View{Title: "Sign in", Data: signinView{
		CSRF: tok, Next: safeNext(r.FormValue("next")), Error: msg,
		NoTokens: len(c.opt.ReadTokens)+len(c.opt.AdminTokens) == 0,
	}})
}

// safeNext keeps a post-sign-in redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) error {
	addr := clientAddr(r)
	if c.tooManyFailures(addr, false) {
		return &knit.Error{Code: "rate_limited", Message: "too many failed sign-ins from your address: wait a minute"}
	}
	ck, err := r.Cookie(signinCookie)
	if err != nil || !equalSecret(r.PostForm.Get("csrf"), ck.Value) {
		return c.showSignin(w, r, http.StatusForbidden, "The sign-in form expired or came from another site: try again.")
	}
	name, rl, ok := c.authenticate(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok {
		c.tooManyFailures(addr, true)
		c.log.Info("console sign-in refused", "client", addr)
		return c.showSignin(w, r, http.StatusUnauthorized, "That token is not valid. Use a read or admin token of this server.")
	}
	s := c.newSession(name, rl)
	setCookie(w, r, signinCookie, "", -1)
	setCookie(w, r, sessionCookie, s.id, int(c.opt.SessionTTL.Seconds()))
	c.log.Info("console sign-in", "token", name, "role", s.view().Role)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) error {
	s := sessionOf(r)
	c.mu.Lock()
	delete(c.sessions, s.id)
	c.mu.Unlock()
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	return nil
}

// static serves the embedded CSS and script.
func (c *Console) static(w http.ResponseWriter, r *http.Request) error {
	if strings.HasSuffix(r.URL.Path, "/") {
		return knit.Errorf(knit.ENOTFOUND, "there is no such file")
	}
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix("/console/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
	return nil
}
