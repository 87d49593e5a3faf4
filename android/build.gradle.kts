// The Android library module of portal-state: the uniffi-generated Kotlin (bindings/kotlin,
// used in place, never copied) over libportal_state.so for each ABI, which build-rust.sh puts
// into src/main/jniLibs/<abi>/. See README.md.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.portalstate"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        // JNA and the generated classes are found by name at run time: keep them in apps
        // that shrink their code.
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            // The generated bindings, checked in and staleness-checked by scripts/test.sh.
            java.srcDir("../bindings/kotlin")
            // <abi>/libportal_state.so, written by build-rust.sh (not checked in).
            jniLibs.srcDir("src/main/jniLibs")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The generated Kotlin calls the library through JNA; the AAR carries JNA's own native
    // dispatch library for every Android ABI (the plain jar does not).
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    // The async methods are `suspend` functions.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.10.2")
}
