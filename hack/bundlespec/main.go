// Command bundlespec sets the process of a bundle's config.json:
//
//	bundlespec CONFIG ARG...
//
// process.args becomes ARG... and process.terminal false; everything else
// stays as it was (e.g. what `runc spec` wrote). It prints the new args as
// JSON. hack/make-bundle.sh uses it.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shim-project/shim/internal/testutil"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: bundlespec CONFIG ARG...")
		os.Exit(2)
	}
	path, args := os.Args[1], os.Args[2:]
	err := testutil.EditSpec(path, func(s *specs.Spec) {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.Args = args
		s.Process.Terminal = false
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundlespec:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(args)
	fmt.Println(string(b))
}
