;; BatchNorm's training passes for src/kernels/batch_norm_passes.ts, a module of its own beside
;; kernels.wat, on the same memory. x is [pixels, channels] (NHWC), channels a multiple of 4;
;; per-channel vectors are [channels]. Every step is a float32 operation in the order of the
;; JavaScript loops there, so both give the same bits. channelMoments and batchNormGradSums need
;; channels to be a multiple of 16.
(module
  (import "env" "memory" (memory 1 65536 MEMORY_SHARED))

  ;; Per channel: mean = Σx / pixels, then variance = Σ(x − mean)² / pixels (centred before
  ;; squaring, as the composition: no cancellation). Units are groups of 16 channels, a cache line
  ;; of each pixel, as four vectors.
  (func (export "channelMoments")
    (param $x i32) (param $mean i32) (param $variance i32) (param $pixels i32) (param $channels i32)
    (param $unitStart i32) (param $unitEnd i32)
    (local $unit i32) (local $p i32) (local $start i32) (local $end i32) (local $stride i32) (local $q i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $d v128) (local $count v128)
    (local.set $stride (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $count (f32x4.splat (f32.convert_i32_u (local.get $pixels))))
    (local.set $unit (local.get $unitStart))
    (block $done
      (loop $units
        (br_if $done (i32.ge_u (local.get $unit) (local.get $unitEnd)))
        (local.set $q (i32.shl (local.get $unit) (i32.const 6)))
        (local.set $start (i32.add (local.get $x) (local.get $q)))
        (local.set $end (i32.add (local.get $start) (i32.mul (local.get $pixels) (local.get $stride))))
        (local.set $s0 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0))
        (local.set $s2 (v128.const i64x2 0 0)) (local.set $s3 (v128.const i64x2 0 0))
        (local.set $p (local.get $start))
        (loop $sums
          (local.set $s0 (f32x4.add (local.get $s0) (v128.load offset=0 (local.get $p))))
          (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
          (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (local.get $p))))
          (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (local.get $p))))
          (br_if $sums (i32.lt_u (local.tee $p (i32.add (local.get $p) (local.get $stride))) (local.get $end))))
        (local.set $m0 (f32x4.div (local.get $s0) (local.get $count)))
        (v128.store offset=0 (i32.add (local.get $mean) (local.get $q)) (local.get $m0))
        (local.set $m1 (f32x4.div (local.get $s1) (local.get $count)))
        (v128.store offset=16 (i32.add (local.get $mean) (local.get $q)) (local.get $m1))
        (local.set $m2 (f32x4.div (local.get $s2) (local.get $count)))
        (v128.store offset=32 (i32.add (local.get $mean) (local.get $q)) (local.get $m2))
        (local.set $m3 (f32x4.div (local.get $s3) (local.get $count)))
        (v128.store offset=48 (i32.add (local.get $mean) (local.get $q)) (local.get $m3))
        (local.set $s0 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0))
        (local.set $s2 (v128.const i64x2 0 0)) (local.set $s3 (v128.const i64x2 0 0))
        (local.set $p (local.get $start))
        (loop $squares
          (local.set $d (f32x4.sub (v128.load offset=0 (local.get $p)) (local.get $m0)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $d (f32x4.sub (v128.load offset=16 (local.get $p)) (local.get $m1)))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $d (f32x4.sub (v128.load offset=32 (local.get $p)) (local.get $m2)))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $d (f32x4.sub (v128.load offset=48 (local.get $p)) (local.get $m3)))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $d) (local.get $d))))
          (br_if $squares (i32.lt_u (local.tee $p (i32.add (local.get $p) (local.get $stride))) (local.get $end))))
        (v128.store offset=0 (i32.add (local.get $variance) (local.get $q)) (f32x4.div (local.get $s0) (local.get $count)))
        (v128.store offset=16 (i32.add (local.get $variance) (local.get $q)) (f32x4.div (local.get $s1) (local.get $count)))
        (v128.store offset=32 (i32.add (local.get $variance) (local.get $q)) (f32x4.div (local.get $s2) (local.get $count)))
        (v128.store offset=48 (i32.add (local.get $variance) (local.get $q)) (f32x4.div (local.get $s3) (local.get $count)))
        (local.set $unit (i32.add (local.get $unit) (i32.const 1)))
        (br $units))))

  ;; Per channel: dBeta = Σg and dGamma = Σg·x̂ over every pixel, where x̂ = x·invStd + xhatShift
  ;; and the gradient g is dy, zero where x̂·γ + β ≤ 0 when a ReLU follows. Units are groups of 16
  ;; channels, as channelMoments.
  (func (export "batchNormGradSums")
    (param $x i32) (param $dy i32) (param $invStd i32) (param $xhatShift i32) (param $gamma i32) (param $beta i32)
    (param $dBeta i32) (param $dGamma i32) (param $pixels i32) (param $channels i32) (param $relu i32)
    (param $unitStart i32) (param $unitEnd i32)
    (local $unit i32) (local $q i32) (local $xo i32) (local $dyo i32) (local $end i32) (local $stride i32)
    (local $is i32) (local $xs0 i32) (local $g i32) (local $b i32)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $up v128) (local $xhat v128)
    (local.set $stride (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $unit (local.get $unitStart))
    (block $done
      (loop $units
        (br_if $done (i32.ge_u (local.get $unit) (local.get $unitEnd)))
        (local.set $q (i32.shl (local.get $unit) (i32.const 6)))
        (local.set $is (i32.add (local.get $invStd) (local.get $q)))
        (local.set $xs0 (i32.add (local.get $xhatShift) (local.get $q)))
        (local.set $g (i32.add (local.get $gamma) (local.get $q)))
        (local.set $b (i32.add (local.get $beta) (local.get $q)))
        (local.set $xo (i32.add (local.get $x) (local.get $q)))
        (local.set $dyo (i32.add (local.get $dy) (local.get $q)))
        (local.set $end (i32.add (local.get $xo) (i32.mul (local.get $pixels) (local.get $stride))))
        (local.set $b0 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
        (local.set $b2 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
        (local.set $g0 (v128.const i64x2 0 0)) (local.set $g1 (v128.const i64x2 0 0))
        (local.set $g2 (v128.const i64x2 0 0)) (local.set $g3 (v128.const i64x2 0 0))
        (loop $pixel
          (local.set $xhat
            (f32x4.add (f32x4.mul (v128.load offset=0 (local.get $xo)) (v128.load offset=0 (local.get $is)))
              (v128.load offset=0 (local.get $xs0))))
          (local.set $up (v128.load offset=0 (local.get $dyo)))
          (if (local.get $relu)
            (then
              (local.set $up
                (v128.and (local.get $up)
                  (f32x4.gt
                    (f32x4.add (f32x4.mul (local.get $xhat) (v128.load offset=0 (local.get $g))) (v128.load offset=0 (local.get $b)))
                    (v128.const i64x2 0 0))))))
          (local.set $b0 (f32x4.add (local.get $b0) (local.get $up)))
          (local.set $g0 (f32x4.add (local.get $g0) (f32x4.mul (local.get $up) (local.get $xhat))))
          (local.set $xhat
            (f32x4.add (f32x4.mul (v128.load offset=16 (local.get $xo)) (v128.load offset=16 (local.get $is)))
              (v128.load offset=16 (local.get $xs0))))
          (local.set $up (v128.load offset=16 (local.get $dyo)))
          (if (local.get $relu)
            (then
              (local.set $up
                (v128.and (local.get $up)
                  (f32x4.gt
                    (f32x4.add (f32x4.mul (local.get $xhat) (v128.load offset=16 (local.get $g))) (v128.load offset=16 (local.get $b)))
                    (v128.const i64x2 0 0))))))
          (local.set $b1 (f32x4.add (local.get $b1) (local.get $up)))
          (local.set $g1 (f32x4.add (local.get $g1) (f32x4.mul (local.get $up) (local.get $xhat))))
          (local.set $xhat
            (f32x4.add (f32x4.mul (v128.load offset=32 (local.get $xo)) (v128.load offset=32 (local.get $is)))
              (v128.load offset=32 (local.get $xs0))))
          (local.set $up (v128.load offset=32 (local.get $dyo)))
          (if (local.get $relu)
            (then
              (local.set $up
                (v128.and (local.get $up)
                  (f32x4.gt
                    (f32x4.add (f32x4.mul (local.get $xhat) (v128.load offset=32 (local.get $g))) (v128.load offset=32 (local.get $b)))
                    (v128.const i64x2 0 0))))))
          (local.set $b2 (f32x4.add (local.get $b2) (local.get $up)))
          (local.set $g2 (f32x4.add (local.get $g2) (f32x4.mul (local.get $up) (local.get $xhat))))
          (local.set $xhat
            (f32x4.add (f32x4.mul (v128.load offset=48 (local.get $xo)) (v128.load offset=48 (local.get $is)))
              (v128.load offset=48 (local.get $xs0))))
          (local.set $up (v128.load offset=48 (local.get $dyo)))
          (if (local.get $relu)
            (then
              (local.set $up
                (v128.and (local.get $up)
                  (f32x4.gt
                    (f32x4.add (f32x4.mul (local.get $xhat) (v128.load offset=48 (local.get $g))) (v128.load offset=48 (local.get $b)))
                    (v128.const i64x2 0 0))))))
          (local.set $b3 (f32x4.add (local.get $b3) (local.get $up)))
          (local.set $g3 (f32x4.add (local.get $g3) (f32x4.mul (local.get $up) (local.get $xhat))))
          (local.set $dyo (i32.add (local.get $dyo) (local.get $stride)))
          (br_if $pixel (i32.lt_u (local.tee $xo (i32.add (local.get $xo) (local.get $stride))) (local.get $end))))
        (v128.store offset=0 (i32.add (local.get $dBeta) (local.get $q)) (local.get $b0))
        (v128.store offset=0 (i32.add (local.get $dGamma) (local.get $q)) (local.get $g0))
        (v128.store offset=16 (i32.add (local.get $dBeta) (local.get $q)) (local.get $b1))
        (v128.store offset=16 (i32.add (local.get $dGamma) (local.get $q)) (local.get $g1))
        (v128.store offset=32 (i32.add (local.get $dBeta) (local.get $q)) (local.get $b2))
        (v128.store offset=32 (i32.add (local.get $dGamma) (local.get $q)) (local.get $g2))
        (v128.store offset=48 (i32.add (local.get $dBeta) (local.get $q)) (local.get $b3))
        (v128.store offset=48 (i32.add (local.get $dGamma) (local.get $q)) (local.get $g3))
        (local.set $unit (i32.add (local.get $unit) (i32.const 1)))
        (br $units))))

  ;; The input gradient, dx = g·upScale + (x̂·xhatScale + dxShift), per element, g and x̂ as
  ;; above. Units are pixels.
  (func (export "batchNormGradInput")
    (param $x i32) (param $dy i32) (param $invStd i32) (param $xhatShift i32) (param $gamma i32) (param $beta i32)
    (param $upScale i32) (param $xhatScale i32) (param $dxShift i32) (param $dx i32) (param $channels i32) (param $relu i32)
    (param $rowStart i32) (param $rowEnd i32)
    (local $o i32) (local $end i32) (local $q i32) (local $rowBytes i32) (local $up v128) (local $xhat v128)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $o (i32.mul (local.get $rowStart) (local.get $rowBytes)))
    (local.set $end (i32.mul (local.get $rowEnd) (local.get $rowBytes)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $q (i32.const 0))
        (loop $channelGroups
          (local.set $xhat
            (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $o))) (v128.load (i32.add (local.get $invStd) (local.get $q))))
              (v128.load (i32.add (local.get $xhatShift) (local.get $q)))))
          (local.set $up (v128.load (i32.add (local.get $dy) (local.get $o))))
          ;; With the ReLU: g where x̂·γ + β > 0, 0 elsewhere.
          (if (local.get $relu)
            (then
              (local.set $up
                (v128.and (local.get $up)
                  (f32x4.gt
                    (f32x4.add (f32x4.mul (local.get $xhat) (v128.load (i32.add (local.get $gamma) (local.get $q))))
                      (v128.load (i32.add (local.get $beta) (local.get $q))))
                    (v128.const i64x2 0 0))))))
          (v128.store (i32.add (local.get $dx) (local.get $o))
            (f32x4.add
              (f32x4.mul (local.get $up) (v128.load (i32.add (local.get $upScale) (local.get $q))))
              (f32x4.add
                (f32x4.mul (local.get $xhat) (v128.load (i32.add (local.get $xhatScale) (local.get $q))))
                (v128.load (i32.add (local.get $dxShift) (local.get $q))))))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (br_if $channelGroups (i32.lt_u (local.tee $q (i32.add (local.get $q) (i32.const 16))) (local.get $rowBytes))))
        (br $rows))))
)
