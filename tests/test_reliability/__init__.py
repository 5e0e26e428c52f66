# Copyright (c) mmdense contributors. All rights reserved.
