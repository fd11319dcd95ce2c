package oci

import (
	"reflect"
	"strings"
	"testing"
)

// Expected lines are §6.1 with every optional part present or absent;
// "·" stands for an empty argument, which must survive.
func TestRuntimeArgv(t *testing.T) {
	full := Opts{
		Runtime: "/usr/bin/runc", SystemdCgroup: true,
		RuntimeArgs: []string{"--log-format=json", "--log", "/run/x/oci-log", ""},
		Bundle:      "/b", PidFile: "/b/pidfile", NoPivot: true, NoNewKeyring: true,
		RuntimeOpts:   []string{"--preserve-fds", "2"},
		ConsoleSocket: "/tmp/cs.sock", Cid: "ctr1",
		RestorePath: "/ckpt", ExecProcessSpec: "/b/exec/spec.json",
	}
	min := Opts{Runtime: "runc", Bundle: "/b", PidFile: "/p", Cid: "c",
		RestorePath: "/r", ExecProcessSpec: "/s"}
	for _, tc := range []struct {
		name string
		fn   func(Opts) []string
		o    Opts
		want string
	}{
		{"create full", CreateArgs, full,
			"/usr/bin/runc --systemd-cgroup --log-format=json --log /run/x/oci-log · create --bundle /b --pid-file /b/pidfile --no-pivot --no-new-keyring --preserve-fds 2 --console-socket /tmp/cs.sock ctr1"},
		{"create min", CreateArgs, min,
			"runc create --bundle /b --pid-file /p c"},
		{"restore full", RestoreArgs, full,
			"/usr/bin/runc --systemd-cgroup --log-format=json --log /run/x/oci-log · restore --bundle /b --pid-file /b/pidfile --no-pivot --no-new-keyring --detach --image-path /ckpt --work-path /b --preserve-fds 2 --console-socket /tmp/cs.sock ctr1"},
		{"restore min", RestoreArgs, min,
			"runc restore --bundle /b --pid-file /p --detach --image-path /r --work-path /b c"},
		// exec: no --systemd-cgroup, --no-pivot, --no-new-keyring, never --tty.
		{"exec full", ExecArgs, full,
			"/usr/bin/runc --log-format=json --log /run/x/oci-log · exec --pid-file /b/pidfile --process /b/exec/spec.json --detach --preserve-fds 2 --console-socket /tmp/cs.sock ctr1"},
		{"exec min", ExecArgs, min,
			"runc exec --pid-file /p --process /s --detach c"},
		// The observed podman 4.3 create line (§6.1).
		{"podman create", CreateArgs, Opts{Runtime: "/usr/bin/runc",
			RuntimeArgs: []string{"--log-format=json", "--log", "RUNDIR/oci-log"},
			Bundle:      "BUNDLE", PidFile: "RUNDIR/pidfile", Cid: "ID"},
			"/usr/bin/runc --log-format=json --log RUNDIR/oci-log create --bundle BUNDLE --pid-file RUNDIR/pidfile ID"},
	} {
		got := tc.fn(tc.o)
		want := strings.Split(tc.want, " ")
		for i := range want {
			if want[i] == "·" {
				want[i] = ""
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
}

func TestRuntimeArgvDoesNotAlias(t *testing.T) {
	o := Opts{Runtime: "r", RuntimeArgs: make([]string, 1, 8), Cid: "c"}
	a := CreateArgs(o)
	a[1] = "changed"
	if o.RuntimeArgs[0] != "" || o.RuntimeArgs[:2][1] != "" {
		t.Error("argv shares storage with Opts.RuntimeArgs")
	}
}
