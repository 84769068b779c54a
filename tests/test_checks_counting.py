"""The self-checks of chapter 3 (counting): the right answers and the typical wrong ones that test_checks.py runs."""

from lenet_helpers import checks


RIGHT = {
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size**2 + 1),
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * (in_channels * kernel_size**2 + 1) * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: (in_features + 1) * out_features,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * in_channels * kernel_size**2,
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * in_channels * kernel_size**2 * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: in_features * out_features,
}
