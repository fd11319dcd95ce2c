// Command shim-exporter serves the metrics of every shim monitor on the node
// on one HTTP endpoint for Prometheus.
//
//	shim-exporter [-listen ADDR] [-timeout D] [-parallel N] [DIR...]
//
// Monitors started with SHIM_METRICS=1 serve their container's metrics on
// <bundle>/metrics.sock. On every request the exporter looks for those
// sockets under each DIR (podman's and CRI-O's storage roots when none are
// given), scrapes them in parallel and returns the union, plus its own
// metrics (shim_exporter_*, Go and process). Monitors that have exited are
// no longer found, or refuse the connection, and so drop out.
//
// It is a binary of its own so that the monitors, one per container, never
// load net/http and client_golang.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "shim-exporter:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("shim-exporter", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9810", "`address` to serve HTTP on (/metrics)")
	timeout := fs.Duration("timeout", 3*time.Second, "bound for scraping every monitor once, per request")
	parallel := fs.Int("parallel", 16, "monitors scraped at once")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: shim-exporter [flags] [DIR...]\n\n"+
			"Serves the metrics of the shim monitors whose metrics.sock lies under the DIRs\n"+
			"(default: %v).\n\n", defaultDirs())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		dirs = defaultDirs()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(dirs, *timeout, *parallel), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on %s, monitors under %v", ln.Addr(), dirs)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler serves /metrics: the monitors' union first, then the exporter's
// own registry, which the gather just updated.
func handler(dirs []string, timeout time.Duration, parallel int) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mon := newMonitors(dirs, timeout, parallel, reg)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{mon, reg}, promhttp.HandlerOpts{
		ErrorLog:            log.Default(),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "shim-exporter: metrics of shim container monitors at /metrics")
	})
	return mux
}
