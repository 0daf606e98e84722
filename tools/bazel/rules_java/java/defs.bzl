"""A minimal @rules_java for Bazel 4.2.3, which loads `@rules_java//java:defs.bzl` from its own @bazel_tools.

Bazel 4.2.3 gets @rules_java by downloading rules_java at commit 7cf3cefd652008d0a64a419c34c13bdca6c8f178
(its WORKSPACE suffix), which offline fails; @bazel_tools//tools/jdk, whose toolchains are registered in
every build, loads it. What Bazel 4.2.3's own files load from here is the native Java rules under their
rules_java names (the rules_java of that time was a thin wrapper over them too), so this forwards each one
to `native`. Nothing in keras_mobile builds Java.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_lite_proto_library(**attrs):
    native.java_lite_proto_library(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
