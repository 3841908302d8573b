package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/console"
	"github.com/knit-cdp/knit/postgres"
	"github.com/knit-cdp/knit/server"
)

// serveLockFile is written in the project folder while knit serve holds
// it, so other commands can say where the server is instead of failing on
// the DuckDB file lock.
const serveLockFile = "serve.lock"

type serveLock struct {
	PID    int    `json:"pid"`
	Listen string `json:"listen"`
}

func newServeCmd() *cobra.Command {
	var listen string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve <project>",
		Short: "Collect events (Segment-compatible), stitch identities live and answer profile lookups over HTTP",
		Long: `Serve runs knit's HTTP server on a project (docs/serve.md): the Segment HTTP
Tracking API for collection, live identity stitching with the batch guards,
the profile API, and batch runs on a schedule or on POST /v1/admin/runs.

Keys and tokens come from the environment variables that knit.yaml's serve
section names (write_keys, read_tokens, admin_tokens). The web console is at
/console/: sign in with a read or admin token (docs/console.md). The server refuses to
listen on a non-loopback address without them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), args[0], listen, verbose)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default serve.listen, 127.0.0.1:8700)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request (route, status, duration; never keys or profile data)")
	return cmd
}

func secretsFrom(names []string, what string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range names {
		v := os.Getenv(name)
		if v == "" {
			return nil, knit.Errorf(knit.EINVALID, "serve.%s names the environment variable %s, which is empty or unset: export it with the secret", what, name)
		}
		out[name] = v
	}
	return out, nil
}

func runServe(ctx context.Context, dir, listen string, verbose bool) error {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	proj, err := config.Load(dir)
	if err != nil {
		return err
	}
	sc := proj.Config.Serve
	if listen == "" {
		listen = sc.Listen
	}
	serveGC()
	opt := server.Options{Project: proj, Logger: log, Tables: postgres.TableSources{}}
	opt.IngestThreads = serveIngestThreads(sc.IngestPriority)
	if opt.WriteKeys, err = secretsFrom(sc.WriteKeys, "write_keys"); err != nil {
		return err
	}
	if opt.ReadTokens, err = secretsFrom(sc.ReadTokens, "read_tokens"); err != nil {
		return err
	}
	if opt.AdminTokens, err = secretsFrom(sc.AdminTokens, "admin_tokens"); err != nil {
		return err
	}
	if err := checkListen(listen, len(opt.WriteKeys)+len(opt.ReadTokens)+len(opt.AdminTokens)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return knit.Wrap(knit.ECONFLICT, err, "cannot listen on %s", listen)
	}
	_, eng, err := openProject(dir)
	if err != nil {
		ln.Close()
		return err
	}
	defer eng.Close()
	opt.Engine = eng
	srv, err := server.New(ctx, opt)
	if err != nil {
		ln.Close()
		return err
	}
	con, err := console.NewForServer(srv, opt.ReadTokens, opt.AdminTokens)
	if err != nil {
		srv.Close()
		ln.Close()
		return err
	}
	con.Mount(srv.Mux())
	// A DuckDB file admits one process: the lock tells other commands to
	// ask the server. A PostgreSQL store is shared, so no lock.
	if !config.IsPostgresURL(proj.Config.Store) {
		lockPath := filepath.Join(proj.Dir, serveLockFile)
		lock, _ := json.Marshal(serveLock{PID: os.Getpid(), Listen: ln.Addr().String()})
		if err := os.WriteFile(lockPath, lock, 0o644); err != nil {
			return err
		}
		defer os.Remove(lockPath)
	}

	hs := srv.NewHTTP()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if every := sc.ScheduleInterval(); every > 0 {
		go srv.Schedule(ctx, every)
	}
	log.Info("listening", "address", "http://"+ln.Addr().String(), "console", "http://"+ln.Addr().String()+"/console/", "project", proj.Dir)
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	// Drain in-flight requests (their events are acknowledged only after
	// fsync), then close the event store.
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	log.Info("stopped")
	return err
}

// serveGCPercent is the server's GOGC unless the environment sets one.
// The live graph is a few hundred MB of long-lived objects and every
// collected event leaves garbage: at the default of 100 the collector ran
// 15 cycles in a 20 s mixed benchmark, and two thirds of the lookups
// slower than 2 ms fell inside a cycle that covered 7 % of the time
// (docs/BENCHMARKS.md, issue 5). 400 cuts the cycles to a quarter for
// about 1.5 times the peak heap; the soft memory limit (main.go) still
// bounds the heap.
const serveGCPercent = 400

func serveGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// serveIngestThreads returns how many low-priority threads parse and
// stitch collected events (0: the requests' goroutines do, at normal
// priority). A low-priority thread holds a P while it runs or waits for a
// core, and lookups must still find one: unless GOMAXPROCS is set, there
// is one thread per P and GOMAXPROCS doubles, so ingestion may use every
// core no lookup wants and lookups keep as many Ps as before; with
// GOMAXPROCS set (left alone), one thread per two Ps. On 2 cores, two
// threads with 4 Ps gave lower lookup tails than one with 3 and ingested
// faster; without extra Ps the tail grew (docs/BENCHMARKS.md, issue 5).
func serveIngestThreads(priority string) int {
	if priority != "low" || !server.LowPriorityThreads {
		return 0
	}
	procs := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		return max(1, procs/2)
	}
	runtime.GOMAXPROCS(2 * procs)
	return procs
}

// checkListen refuses a non-loopback address without any key: the server
// would hold customer profiles open to the network.
func checkListen(addr string, keys int) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return knit.Errorf(knit.EINVALID, "--listen %q is not host:port (such as 127.0.0.1:8700)", addr)
	}
	if keys > 0 {
		return nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return knit.Errorf(knit.EINVALID, "refusing to listen on %s without keys: set serve.write_keys, read_tokens or admin_tokens in knit.yaml (names of environment variables holding them), or listen on 127.0.0.1", addr)
}

// serverHolding reports a running knit serve of the project, so commands
// that need the DuckDB file say where to send their request instead.
func serverHolding(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(abs, serveLockFile))
	if err != nil {
		return nil
	}
	var l serveLock
	if json.Unmarshal(data, &l) != nil || l.PID <= 0 {
		return nil
	}
	if err := syscall.Kill(l.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return nil // a stale lock of a killed server
	}
	base := "http://" + l.Listen
	return knit.Errorf(knit.ECONFLICT, "%s", strings.Join([]string{
		fmt.Sprintf("knit serve (pid %d) holds this project at %s; ask it instead:", l.PID, base),
		fmt.Sprintf(`  profile:  curl -H "Authorization: Bearer $READ_TOKEN" %s/v1/profiles/<key>`, base),
		fmt.Sprintf(`  explain:  curl -H "Authorization: Bearer $READ_TOKEN" %s/v1/profiles/<key>/explain`, base),
		fmt.Sprintf(`  run:      curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" '%s/v1/admin/runs?wait=true'`, base),
		"or stop the server (Ctrl-C or kill its pid) to use the project directly",
	}, "\n"))
}
