"""A minimal @rules_cc for Bazel 4.2.3, which loads `@rules_cc//cc:defs.bzl` from its own @bazel_tools.

Bazel 4.2.3 gets @rules_cc by downloading rules_cc at commit b1c40e1de81913a3c40e5948f78719c28152486d
(its WORKSPACE suffix), which offline fails. Debian's bazel-rules-cc (0.0.4, /usr/share/bazel/rules/cc) is
newer than Bazel 4.2.3: its cc/private/rules_impl/compiler_flag.bzl loads `use_cpp_toolchain` from
@bazel_tools//tools/cpp:toolchain_utils.bzl, which Bazel 4.2.3 does not have, so every package that loads
@rules_cc//cc:defs.bzl (@bazel_tools//tools/cpp, @local_config_cc, ...) fails to load.

What Bazel 4.2.3's own files load from here is the native C++ rules under their rules_cc names (the
rules_cc of that time was a thin wrapper over them too), so this forwards each one to `native`. Nothing in
keras_mobile builds C++; these are loaded only to resolve toolchains for py_binary/py_test.
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)
