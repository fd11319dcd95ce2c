package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shim-project/shim/hack/probe"
)

// podman runs the podman CLI on the soak's store with one monitor binary.
type podman struct {
	r       *reaper
	opts    []string // PODMAN_OPTS (hack/lib.sh)
	monitor string   // --conmon
	env     []string // with CONTAINERS_CONF: hack/containers.conf + SHIM_METRICS=1
	scratch string
}

// run runs podman ARGS and returns its output and the CPU of the children
// podman reaped (for `podman exec`, the monitor's first process).
func (p *podman) run(args ...string) (string, time.Duration, error) {
	out, err := os.CreateTemp(p.scratch, "podman-out-")
	if err != nil {
		return "", 0, fmt.Errorf("podman output file: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return "", 0, err
	}
	defer devnull.Close()
	argv := append(append([]string{"podman"}, p.opts...), "--conmon", p.monitor)
	argv = append(argv, args...)
	bin, err := lookPath("podman")
	if err != nil {
		return "", 0, err
	}
	argv[0] = bin
	_, ch, err := p.r.start(argv, &os.ProcAttr{Env: p.env, Files: []*os.File{devnull, out, out}})
	if err != nil {
		return "", 0, err
	}
	e, err := wait(ch, "podman "+strings.Join(args, " "), 30*time.Minute)
	if err != nil {
		return "", 0, err
	}
	b, _ := os.ReadFile(out.Name())
	if e.status.ExitStatus() != 0 {
		return string(b), 0, fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), e.status, strings.TrimSpace(string(b)))
	}
	return string(b), e.stat.Children, nil
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH", name)
}

// container is the long-lived container and its monitor.
type container struct {
	name, id  string
	bundle    string // podman's StaticDir: attach, ctl, metrics.sock, config.json
	logPath   string
	monPid    int
	monExe    string
	runc      string
	execSpec  string // config.json's process with args `true`, for the exec syncs
	goroutine bool   // the monitor serves metrics (shim with SHIM_METRICS=1)
}

// startContainer runs `sleep` detached with a k8s-file log of logMax bytes
// (--log-size-max), then finds its monitor.
func (p *podman) startContainer(name, image, logMax string) (*container, error) {
	if _, _, err := p.run("run", "-d", "--name", name, "--log-driver", "k8s-file",
		"--log-opt", "max-size="+logMax, image, "sleep", "1000000"); err != nil {
		return nil, err
	}
	out, _, err := p.run("inspect", "--format",
		"{{.Id}} {{.State.ConmonPid}} {{.StaticDir}} {{.HostConfig.LogConfig.Path}} {{.OCIRuntime}}", name)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) != 5 {
		return nil, fmt.Errorf("podman inspect %s: %q", name, out)
	}
	c := &container{name: name, id: f[0], bundle: f[2], logPath: f[3], monExe: p.monitor}
	if c.monPid, err = strconv.Atoi(f[1]); err != nil || c.monPid <= 0 {
		return nil, fmt.Errorf("podman inspect %s: monitor pid %q", name, f[1])
	}
	if c.runc, err = lookPath(f[4]); err != nil {
		return nil, err
	}
	c.execSpec = filepath.Join(p.scratch, name+"-process.json")
	if err := writeExecSpec(filepath.Join(c.bundle, "config.json"), c.execSpec); err != nil {
		return nil, err
	}
	_, err = os.Stat(filepath.Join(c.bundle, probe.MetricsSocket))
	c.goroutine = err == nil
	return c, nil
}

// writeExecSpec writes the container's process with args `true`, as CRI-O
// writes the process of an ExecSync (--exec-process-spec).
func writeExecSpec(config, dst string) error {
	raw, err := os.ReadFile(config)
	if err != nil {
		return fmt.Errorf("read %s: %w", config, err)
	}
	var spec struct {
		Process map[string]any `json:"process"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil || spec.Process == nil {
		return fmt.Errorf("parse %s: no process (%v)", config, err)
	}
	spec.Process["args"] = []string{"true"}
	spec.Process["terminal"] = false
	b, err := json.Marshal(spec.Process)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func (p *podman) remove(name string) {
	if _, _, err := p.run("rm", "-f", "-t", "0", name); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
}
